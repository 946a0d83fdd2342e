"""The mails of citizen accounts, Vietnamese first and English below (app/core/mail.py sends them).

A verification mail does not repeat the name typed at registration: the address
is not proven yet, and whoever typed it could put any text there.
"""

from __future__ import annotations

from app.auth.models import Account
from app.core.mail import Mail, compose


def verification_mail(account: Account, link: str, hours: int) -> Mail:
    return compose(
        account.email,
        subject=("Xác thực địa chỉ email", "Verify your email address"),
        body=(
            "Xin chào,\n\n"
            "Để hoàn tất đăng ký tài khoản trên Cổng dịch vụ công, hãy mở liên kết sau "
            f"(dùng được một lần, trong {hours} giờ):\n\n{link}\n\n"
            "Nếu bạn không đăng ký, hãy bỏ qua thư này.",
            "Hello,\n\n"
            "To finish registering on the public service portal, open this link "
            f"(it works once, for {hours} hours):\n\n{link}\n\n"
            "If you did not register, ignore this message.",
        ),
        links=[link],
    )


def already_registered_mail(account: Account, login: str, forgot: str) -> Mail:
    return compose(
        account.email,
        subject=("Địa chỉ email này đã có tài khoản", "This email address already has an account"),
        body=(
            f"Xin chào {account.full_name},\n\n"
            "Ai đó (có thể là bạn) vừa đăng ký tài khoản trên Cổng dịch vụ công bằng địa chỉ email này, "
            "nhưng địa chỉ này đã có tài khoản.\n\n"
            f"Đăng nhập: {login}\nQuên mật khẩu: {forgot}\n\n"
            "Nếu không phải bạn, hãy bỏ qua thư này.",
            f"Hello {account.full_name},\n\n"
            "Someone (perhaps you) tried to register on the public service portal with this email "
            "address, which already has an account.\n\n"
            f"Sign in: {login}\nForgot your password: {forgot}\n\n"
            "If it was not you, ignore this message.",
        ),
        links=[login, forgot],
    )


def reset_mail(account: Account, link: str, minutes: int) -> Mail:
    return compose(
        account.email,
        subject=("Đặt lại mật khẩu", "Reset your password"),
        body=(
            f"Xin chào {account.full_name},\n\n"
            f"Để đặt mật khẩu mới, hãy mở liên kết sau (dùng được một lần, trong {minutes} phút):\n\n"
            f"{link}\n\nNếu bạn không yêu cầu, hãy bỏ qua thư này: mật khẩu của bạn không thay đổi.",
            f"Hello {account.full_name},\n\n"
            f"To choose a new password, open this link (it works once, for {minutes} minutes):\n\n"
            f"{link}\n\nIf you did not ask for it, ignore this message: your password is unchanged.",
        ),
        links=[link],
    )
