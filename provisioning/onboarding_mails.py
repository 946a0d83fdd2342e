"""The mails of onboarding, Vietnamese first (app/core/mail.py compose).

What the requester typed is repeated only where they need it (the unit's name,
which they proved by confirming their address); reasons come from ops.
"""

from __future__ import annotations

from app.core.mail import Mail, compose
from provisioning.onboarding_models import OnboardingRequest


def confirm_mail(request: OnboardingRequest, link: str, hours: int, *, again: bool = False) -> Mail:
    note_vi = note_en = ""
    if again:
        note_vi = (
            "Đăng ký này đã được gửi trước đó và đang chờ xác nhận; đây là liên kết đã gửi lần trước. "
            "Nội dung gửi lần đầu được giữ nguyên (trang xác nhận hiển thị nội dung đó); muốn sửa, hãy để "
            "liên kết hết hạn rồi gửi lại đăng ký.\n\n"
        )
        note_en = (
            "This registration was sent before and waits for confirmation; this is the link sent then. "
            "The details sent first are kept (the confirmation page shows them); to change them, let the "
            "link expire and send the registration again.\n\n"
        )
    return compose(
        request.contact_email,
        subject=("Xác nhận đăng ký đơn vị", "Confirm the unit's registration"),
        body=(
            "Xin chào,\n\nĐịa chỉ email này vừa được dùng để đăng ký một đơn vị mới trên cổng dịch vụ công "
            f"của thành phố. {note_vi}Để gửi đăng ký tới bộ phận vận hành, hãy mở liên kết sau "
            f"(có hiệu lực trong {hours} giờ kể từ lần gửi đầu):\n\n{link}\n\n"
            "Nếu bạn không đăng ký, hãy bỏ qua thư này: đăng ký sẽ không được xem xét.",
            "Hello,\n\nThis address was just used to register a new unit on the city's public service "
            f"portal. {note_en}To send the registration to the platform's operators, open this link "
            f"(valid for {hours} hours from when it was first sent):\n\n{link}\n\n"
            "If you did not register, ignore this message: nothing will be reviewed.",
        ),
        links=[link],
    )


def status_mail(request: OnboardingRequest, link: str, *, again: bool = False) -> Mail:
    lead_vi = (
        "Bạn đã có một đăng ký đang được xử lý cho đơn vị này; chúng tôi không tạo đăng ký thứ hai."
        if again
        else "Đăng ký của bạn đã được xác nhận và chuyển tới bộ phận vận hành."
    )
    lead_en = (
        "You already have a registration in progress for this unit; no second one was made."
        if again
        else "Your registration is confirmed and was sent to the platform's operators."
    )
    return compose(
        request.contact_email,
        subject=(f"Đăng ký đơn vị #{request.id}", f"Unit registration #{request.id}"),
        body=(
            f"Xin chào,\n\n{lead_vi}\n\nTheo dõi tình trạng đăng ký “{request.name}” tại:\n\n{link}\n\n"
            "Hãy giữ liên kết này: ai có nó đều xem được tình trạng đăng ký.",
            f"Hello,\n\n{lead_en}\n\nFollow the registration of “{request.name_en or request.name}” at:\n\n"
            f"{link}\n\nKeep this link: anyone who has it can see the registration's status.",
        ),
        links=[link],
    )


def approved_mail(request: OnboardingRequest) -> Mail:
    return compose(
        request.contact_email,
        subject=(f"Đăng ký đơn vị #{request.id} đã được duyệt", f"Unit registration #{request.id} approved"),
        body=(
            f"Xin chào,\n\nĐăng ký “{request.name}” đã được duyệt. Cổng của đơn vị đang được khởi tạo; "
            "trang tình trạng (liên kết trong thư xác nhận) hiển thị tiến độ. Khi hoàn tất, bạn sẽ nhận "
            "thư mời quản trị đơn vị.",
            f"Hello,\n\nThe registration of “{request.name_en or request.name}” was approved. The unit's "
            "portal is being set up; the status page (the link in the confirmation message) shows the "
            "progress. When it is ready you will receive an invitation to administer the unit.",
        ),
    )


def rejected_mail(request: OnboardingRequest, reason: str) -> Mail:
    return compose(
        request.contact_email,
        subject=(f"Đăng ký đơn vị #{request.id} bị từ chối", f"Unit registration #{request.id} rejected"),
        body=(
            f"Xin chào,\n\nĐăng ký “{request.name}” không được chấp thuận. Lý do:\n\n{reason}\n\n"
            "Nếu cần, bạn có thể gửi một đăng ký mới sau khi đã khắc phục.",
            f"Hello,\n\nThe registration of “{request.name_en or request.name}” was rejected. The reason:"
            f"\n\n{reason}\n\nYou may file a new registration once this is resolved.",
        ),
    )


def changes_mail(request: OnboardingRequest, message: str, link: str, days: int) -> Mail:
    return compose(
        request.contact_email,
        subject=(
            f"Đăng ký đơn vị #{request.id} cần bổ sung",
            f"Unit registration #{request.id} needs changes",
        ),
        body=(
            f"Xin chào,\n\nBộ phận vận hành đề nghị bổ sung đăng ký “{request.name}”:\n\n{message}\n\n"
            f"Sửa và gửi lại chính đăng ký này tại (có hiệu lực trong {days} ngày):\n\n{link}",
            f"Hello,\n\nThe platform's operators ask for changes to the registration of "
            f"“{request.name_en or request.name}”:\n\n{message}\n\nEdit and resubmit this same "
            f"registration at (valid for {days} days):\n\n{link}",
        ),
        links=[link],
    )
