"""The resident's way to an online provider and back, the sandbox gateway's own pages, and the
providers' server-to-server notifications (Stripe's webhook, the sandbox's signed callback)."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from municipalities.line.liff import resident_required
from municipalities.models import Municipality, Payment, PaymentMethod, PaymentStatus
from municipalities.payments import CallbackRequest, PaymentVerificationError, get_provider, payable_for
from municipalities.payments.sandbox import signed_result
from municipalities.services.payments import PaymentError, payment_checkout_url, payment_record_callback

logger = logging.getLogger(__name__)

# What the resident is told on return, by the payment's state.
RETURN_NOTES = {
    PaymentStatus.PAID: (messages.SUCCESS, "お支払いが完了しました。"),
    PaymentStatus.FAILED: (
        messages.ERROR,
        "お支払いができませんでした。もう一度お試しいただくか、窓口でお支払いください。",
    ),
    PaymentStatus.CANCELLED: (
        messages.WARNING,
        "お支払いをキャンセルしました。まだお支払いは済んでいません。",
    ),
    PaymentStatus.PENDING: (
        messages.INFO,
        "お支払いの結果を確認しています。コンビニ払いの方は、払込票の案内に沿ってお支払いください。",
    ),
}


def _own_payment(request: HttpRequest, pk: int) -> Payment:
    return get_object_or_404(
        Payment.objects.select_related("department__municipality", "subject_type"),
        pk=pk,
        resident=request.resident,
    )


@resident_required
def checkout_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Send the resident to the provider's checkout for their pending online payment."""
    payment = _own_payment(request, pk)
    path = reverse("payments:return", kwargs={"pk": payment.pk})
    return_url = f"{settings.SITE_URL}{path}" if settings.SITE_URL else request.build_absolute_uri(path)
    try:
        url = payment_checkout_url(payment=payment, return_url=return_url)
    except PaymentError as exc:
        return render(
            request,
            "liff/payments/error.html",
            {"message": exc.message, "page_title": "お支払い"},
            status=400,
        )
    return HttpResponseRedirect(url)


@resident_required
def return_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Back from the provider: say how the payment stands and show what it was for."""
    payment = _own_payment(request, pk)
    level, text = RETURN_NOTES[PaymentStatus(payment.status)]
    messages.add_message(request, level, text)
    return HttpResponseRedirect(payable_for(payment).resident_path(payment.subject))


# --- Stripe ---------------------------------------------------------------------------------


@csrf_exempt  # Stripe posts server-to-server; its signature (checked by the SDK) authenticates it
@require_POST
def stripe_webhook_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Stripe's event notification for one town's account: 200 once recorded (or not ours),
    400 for a bad signature or a payment that does not check out (Stripe retries non-2xx)."""
    municipality = get_object_or_404(Municipality, slug=slug)
    callback = CallbackRequest(body=request.body, signature=request.headers.get("Stripe-Signature", ""))
    try:
        payment_record_callback(
            provider_code=PaymentMethod.STRIPE, municipality=municipality, request=callback
        )
    except PaymentVerificationError:
        return HttpResponse("bad signature", status=400, content_type="text/plain")
    except PaymentError as exc:
        if exc.code == "unknown":  # a checkout of another system on the same Stripe account
            logger.warning("Stripe event for an unknown checkout in %s", slug)
            return HttpResponse("ignored", content_type="text/plain")
        logger.error("Stripe event refused in %s: %s", slug, exc.message)
        return HttpResponse("refused", status=400, content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")


# --- the sandbox gateway (test environment) -------------------------------------------------


@resident_required
def sandbox_checkout_view(request: HttpRequest, reference: str) -> HttpResponse:
    """The gateway's own checkout page (test environment): pay, fail or cancel."""
    payment = (
        Payment.objects.select_related("subject_type")
        .filter(provider=PaymentMethod.SANDBOX, reference=reference, resident=request.resident)
        .first()
    )
    if payment is None:
        raise Http404
    if request.method == "POST":
        outcome = request.POST.get("outcome", "")
        if outcome not in ("paid", "failed", "cancelled"):
            outcome = "cancelled"
        params = signed_result(reference=payment.reference, outcome=outcome, amount=payment.amount)
        return HttpResponseRedirect(reverse("payments:sandbox_callback") + "?" + urlencode(params))
    context = {
        "payment": payment,
        "subject_url": payable_for(payment).resident_path(payment.subject),
        "page_title": "お支払い（テスト環境）",
    }
    return render(request, "liff/payments/sandbox_checkout.html", context)


@csrf_exempt  # the gateway posts server-to-server; the HMAC signature is the authentication
def sandbox_callback_view(request: HttpRequest) -> HttpResponse:
    """The gateway's signed result: browser redirect (GET) or server notification (POST)."""
    params = {k: v for k, v in (request.POST if request.method == "POST" else request.GET).items()}
    provider = get_provider(PaymentMethod.SANDBOX)
    try:
        payment = payment_record_callback(
            provider_code=provider.code, municipality=None, request=CallbackRequest(params=params)
        )
    except (PaymentVerificationError, PaymentError) as exc:
        if request.method == "POST":
            return HttpResponse("NG", status=400, content_type="text/plain")
        message = (
            exc.message
            if isinstance(exc, PaymentError)
            else "お支払いの結果を確認できませんでした（署名が正しくありません）。"
        )
        return render(
            request, "liff/payments/error.html", {"message": message, "page_title": "お支払い"}, status=400
        )
    if request.method == "POST" or payment is None:
        return HttpResponse("OK", content_type="text/plain")
    return HttpResponseRedirect(reverse("payments:return", kwargs={"pk": payment.pk}))
