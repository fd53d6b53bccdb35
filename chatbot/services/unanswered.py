"""Questions the bot could not answer: counted per text, who asked, resolved into an FAQ."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from chatbot.errors import ChatbotError
from chatbot.models import Faq, UnansweredAsk, UnansweredQuestion
from chatbot.normalize import query_key
from chatbot.services.faq import faq_write
from municipalities import permissions
from municipalities.audit import audit_log
from municipalities.line import messages as line_messages
from municipalities.line.client import get_line_client, retry_key_for
from municipalities.line.talklog import talk_log_outbound
from municipalities.models import Department, Resident, StaffUser, TalkMessage
from municipalities.tasks_queue import enqueue_on_commit

# --- Unanswered questions ---------------------------------------------------------------------


@transaction.atomic(durable=True)
def unanswered_record(*, resident: Resident, text: str) -> UnansweredQuestion | None:
    """Count a question the bot could not answer (one row per normalised text and town) and
    remember who asked it (one UnansweredAsk per resident, brought up to date when they ask
    again), so that staff can send them the answer once there is one."""
    normalized = query_key(text)[:300]
    if not normalized:
        return None
    now = timezone.now()
    updated = UnansweredQuestion.objects.filter(
        municipality_id=resident.municipality_id, normalized=normalized
    ).update(count=F("count") + 1, last_asked_at=now, text=text[:300], status=UnansweredQuestion.Status.OPEN)
    if not updated:
        try:
            with transaction.atomic():
                UnansweredQuestion.objects.create(
                    municipality_id=resident.municipality_id,
                    normalized=normalized,
                    text=text[:300],
                    last_asked_at=now,
                )
        except IntegrityError:  # the same question arrived twice at once: count it on the winner
            UnansweredQuestion.objects.filter(
                municipality_id=resident.municipality_id, normalized=normalized
            ).update(count=F("count") + 1, last_asked_at=now)
    question = UnansweredQuestion.objects.get(municipality_id=resident.municipality_id, normalized=normalized)
    asked = UnansweredAsk.objects.filter(question=question, resident=resident).update(
        text=text[:300], asked_at=now, answered_at=None, updated_at=now
    )
    if not asked:
        try:
            with transaction.atomic():
                UnansweredAsk.objects.create(
                    municipality_id=resident.municipality_id,
                    question=question,
                    resident=resident,
                    text=text[:300],
                    asked_at=now,
                )
        except IntegrityError:  # recorded by a message of the same resident processed at once
            pass
    return question


@transaction.atomic(durable=True)
def unanswered_resolve(
    *,
    question: UnansweredQuestion,
    actor: StaffUser | None,
    faq: Faq | None = None,
    department: Department | None = None,
    answer: str = "",
) -> Faq:
    """Turn an unanswered question into a variant of ``faq`` or a new FAQ of ``department``.

    The question is marked resolved and linked to the FAQ. Raises ChatbotError when neither
    target is given or it belongs to another town. Audited; the index is rebuilt on commit.
    """
    question = UnansweredQuestion.objects.select_for_update().get(pk=question.pk)
    if actor is not None:
        permissions.require(
            actor, "change", question, error=ChatbotError, message=_("この質問を整理する権限がありません。")
        )
    if faq is not None:
        faq = Faq.objects.select_for_update().select_related("department").get(pk=faq.pk)
        if faq.department.municipality_id != question.municipality_id:
            raise ChatbotError(_("別の自治体の FAQ には追加できません。"))
        if query_key(question.text) not in {query_key(v) for v in [faq.question, *faq.variant_list()]}:
            faq.variants = "\n".join([*faq.variant_list(), question.text])
        faq = faq_write(faq=faq, actor=actor, created=False, changed=["variants"])
    elif department is not None:
        if department.municipality_id != question.municipality_id:
            raise ChatbotError(_("別の自治体の課は選べません。"))
        if not answer.strip():
            raise ChatbotError(_("回答を入力してください。"))
        faq = faq_write(
            faq=Faq(department=department, question=question.text, answer=answer.strip()),
            actor=actor,
            created=True,
        )
    else:
        raise ChatbotError(_("追加先の FAQ か、新しい FAQ の課を選んでください。"))
    question.status = UnansweredQuestion.Status.RESOLVED
    question.faq = faq
    question.save(update_fields=["status", "faq", "updated_at"])
    audit_log(actor=actor, action="chatbot.unansweredquestion.resolved", obj=question, data={"faq": faq.pk})
    return faq


@transaction.atomic(durable=True)
def unanswered_answer_send(*, question: UnansweredQuestion, actor: StaffUser | None) -> int:
    """Send the answer of the FAQ a question was registered as to every resident who asked it and
    has not had it yet (one staff action, one audit entry with the count).

    Refuses a question that has no FAQ yet or whose FAQ is not published. Each push goes out on
    commit as its own task with a retry key per (question, resident), so a resident gets it once
    even when the task runs twice; ``answered_at`` is set by the task. Returns how many
    residents the answer is sent to.
    """
    question = UnansweredQuestion.objects.select_for_update().get(pk=question.pk)
    if actor is not None:
        permissions.require(
            actor, "change", question, error=ChatbotError, message=_("この質問を整理する権限がありません。")
        )
    if question.faq_id is None:
        raise ChatbotError(_("先にこの質問を FAQ に登録してください。"))
    faq = Faq.objects.get(pk=question.faq_id)
    if not faq.is_published:
        raise ChatbotError(_("登録した FAQ が非公開のため送れません。"))
    asks = list(
        question.asks.filter(answered_at__isnull=True, resident__is_following=True).values_list(
            "pk", flat=True
        )
    )
    if not asks:
        raise ChatbotError(_("回答を送る住民がいません（全員に送信済みか、ブロックされています）。"))
    audit_log(
        actor=actor,
        action="chatbot.unansweredquestion.answer_sent",
        obj=question,
        data={"faq": faq.pk, "residents": len(asks)},
    )
    for ask_id in asks:
        enqueue_on_commit("chatbot.tasks.unanswered_answer_push_task", ask_id)
    return len(asks)


def unanswered_answer_push(*, ask_id: int) -> UnansweredAsk:
    """Push the FAQ answer to one resident who asked (task body; outside any transaction).

    Skips an ask already answered or a resident who blocked the account since; the retry key is
    per ask, so a retry after a crash between the push and ``answered_at`` reaches LINE once.
    The talk log keeps the message like any other bot answer.
    """
    ask = UnansweredAsk.objects.select_related("question__faq", "resident", "municipality").get(pk=ask_id)
    faq = ask.question.faq
    if ask.answered_at is not None or faq is None:
        return ask
    if ask.resident.is_following:
        body = _("以前いただいたご質問「%(q)s」への回答です。\n\n%(answer)s") % {
            "q": ask.text[:60],
            "answer": faq.answer,
        }
        message = line_messages.text(body[:5000])
        started = timezone.now()
        result = get_line_client(ask.municipality).push(
            ask.resident.line_user_id, [message], retry_key=retry_key_for("chatbot-unanswered-answer", ask.pk)
        )
        if (
            not result.already_accepted
            and not TalkMessage.objects.filter(
                resident=ask.resident, direction=TalkMessage.Direction.OUTBOUND, created_at__gte=started
            ).exists()
        ):  # the simulator backend logs its own sends
            talk_log_outbound(
                municipality=ask.municipality, line_user_ids=[ask.resident.line_user_id], messages=[message]
            )
    UnansweredAsk.objects.filter(pk=ask.pk, answered_at__isnull=True).update(answered_at=timezone.now())
    ask.refresh_from_db()
    return ask
