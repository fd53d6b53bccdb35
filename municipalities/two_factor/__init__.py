"""Two-factor sign-in for staff (TOTP, django-otp).

- A staff member with a confirmed authenticator app enters its 6-digit code at the admin login
  (``forms.CmsAuthenticationForm``).
- A municipality can require it (``Municipality.require_two_factor``): its staff without a
  device are sent to the enrolment page (``views.setup_view``) right after the password and
  cannot open any other admin page until they have confirmed a code.
- ``policy`` decides who needs it and whether the session has it; ``services`` are the writes
  (enrol, confirm, verify at login, reset by 自治体管理者), each audited.
"""
