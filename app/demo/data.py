"""The Hai Phong demo as plain data: units (around 2019) and the standard catalogue of each kind.

Sources are DOMAIN.md §7 (procedures) and §8 (districts with GSO codes, departments).
Unit codes use the placeholder province segment ``H99`` (§3.1): the city is
``000.00.00.H99``; departments take level-2 numbers 01–21 in §8.2 order, districts
22–36 in GSO order; a ward or commune is ``000.ZZ.YY.H99`` with YY its district's
number. Ward and commune GSO codes are left empty (not confirmed).

Catalogue: ``standard_catalogue(kind)`` is version 1 of the city's standard
catalogue for communes, districts and departments (the city offers none); the
seed publishes it and rolls it out (app.demo.seed). Procedure codes ``1.001193``
and ``2.000720`` are confirmed; the other national codes are the unverified ones
of §7 (italics there). Procedures without a known national code carry an
obviously local ``DEMO-…`` code. Amounts set by the People's Council, and the
entries of departments not in §7.3, say ``(demo)``: plausible, not checked
against a Hai Phong resolution. Legal documents' numbers and dates are general
knowledge [M]; template files are names only (no files ship with the demo).
Channels and result delivery follow the service level (§1.1): levels 1–2 at the
counter or by post, level 3 also online with the result collected, level 4 also
with an e-result; procedures needing the original or both parties present stay
at the counter.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenants.naming import slugify

PROVINCE = "H99"  # placeholder, not Hai Phong's real QCVN 102 segment (DOMAIN.md §3.1)


@dataclass(frozen=True)
class Unit:
    name: str
    name_en: str
    kind: str
    unit_code: str
    parent: str | None = None  # parent's slug
    gso_code: str | None = None
    # Extra catalogue sets beyond the kind's own (Bạch Long Vĩ has no commune level).
    extra_sets: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        return slugify(self.name)


def _code(level3: int, level2: int) -> str:
    return f"000.{level3:02d}.{level2:02d}.{PROVINCE}"


CITY = Unit("Thành phố Hải Phòng", "Hai Phong City", "city", _code(0, 0), gso_code="31")

# DOMAIN.md §8.2, in its order: level-2 numbers 01–21.
_DEPARTMENTS = (
    ("Văn phòng UBND thành phố", "Office of the City People's Committee"),
    ("Sở Nội vụ", "Department of Home Affairs"),
    ("Sở Tư pháp", "Department of Justice"),
    ("Sở Kế hoạch và Đầu tư", "Department of Planning and Investment"),
    ("Sở Tài chính", "Department of Finance"),
    ("Sở Công Thương", "Department of Industry and Trade"),
    ("Sở Nông nghiệp và Phát triển nông thôn", "Department of Agriculture and Rural Development"),
    ("Sở Giao thông vận tải", "Department of Transport"),
    ("Sở Xây dựng", "Department of Construction"),
    ("Sở Quy hoạch – Kiến trúc", "Department of Urban Planning and Architecture"),
    ("Sở Tài nguyên và Môi trường", "Department of Natural Resources and Environment"),
    ("Sở Thông tin và Truyền thông", "Department of Information and Communications"),
    ("Sở Lao động – Thương binh và Xã hội", "Department of Labour, Invalids and Social Affairs"),
    ("Sở Văn hóa và Thể thao", "Department of Culture and Sports"),
    ("Sở Du lịch", "Department of Tourism"),
    ("Sở Khoa học và Công nghệ", "Department of Science and Technology"),
    ("Sở Giáo dục và Đào tạo", "Department of Education and Training"),
    ("Sở Y tế", "Department of Health"),
    ("Sở Ngoại vụ", "Department of Foreign Affairs"),
    ("Thanh tra thành phố", "City Inspectorate"),
    ("Ban Quản lý Khu kinh tế Hải Phòng", "Hai Phong Economic Zone Authority"),
)
DEPARTMENTS = tuple(
    Unit(name, name_en, "department", _code(0, n), parent=CITY.slug)
    for n, (name, name_en) in enumerate(_DEPARTMENTS, start=1)
)

# DOMAIN.md §8.1: GSO codes 303–318 (there is no 310); level-2 numbers 22–36.
_DISTRICTS = (
    ("303", "Quận Hồng Bàng", "Hong Bang District"),
    ("304", "Quận Ngô Quyền", "Ngo Quyen District"),
    ("305", "Quận Lê Chân", "Le Chan District"),
    ("306", "Quận Hải An", "Hai An District"),
    ("307", "Quận Kiến An", "Kien An District"),
    ("308", "Quận Đồ Sơn", "Do Son District"),
    ("309", "Quận Dương Kinh", "Duong Kinh District"),
    ("311", "Huyện Thủy Nguyên", "Thuy Nguyen Rural District"),
    ("312", "Huyện An Dương", "An Duong Rural District"),
    ("313", "Huyện An Lão", "An Lao Rural District"),
    ("314", "Huyện Kiến Thụy", "Kien Thuy Rural District"),
    ("315", "Huyện Tiên Lãng", "Tien Lang Rural District"),
    ("316", "Huyện Vĩnh Bảo", "Vinh Bao Rural District"),
    ("317", "Huyện Cát Hải", "Cat Hai Rural District"),
    ("318", "Huyện Bạch Long Vĩ", "Bach Long Vi Rural District"),
)
DISTRICTS = tuple(
    Unit(
        name,
        name_en,
        "district",
        _code(0, n),
        parent=CITY.slug,
        gso_code=gso,
        # No commune level on the island: the district handles the commune procedures too.
        extra_sets=("commune",) if gso == "318" else (),
    )
    for n, (gso, name, name_en) in enumerate(_DISTRICTS, start=22)
)
_DISTRICT_BY_SLUG = {d.slug: d for d in DISTRICTS}

# A few real wards and townships (2019 names); level-3 numbers 01.. within each district.
_COMMUNES = {
    "ngo-quyen": (
        ("Phường Máy Chai", "May Chai Ward"),
        ("Phường Máy Tơ", "May To Ward"),
        ("Phường Lạc Viên", "Lac Vien Ward"),
        ("Phường Cầu Đất", "Cau Dat Ward"),
    ),
    "hong-bang": (
        ("Phường Hoàng Văn Thụ", "Hoang Van Thu Ward"),
        ("Phường Minh Khai", "Minh Khai Ward"),
        ("Phường Phan Bội Châu", "Phan Boi Chau Ward"),
        ("Phường Quán Toan", "Quan Toan Ward"),
    ),
    "thuy-nguyen": (("Thị trấn Núi Đèo", "Nui Deo Township"),),
    "cat-hai": (("Thị trấn Cát Bà", "Cat Ba Township"),),
}


def _district_number(slug: str) -> int:
    return int(_DISTRICT_BY_SLUG[slug].unit_code.split(".")[2])


COMMUNES = tuple(
    Unit(name, name_en, "commune", _code(z, _district_number(district)), parent=district)
    for district, names in _COMMUNES.items()
    for z, (name, name_en) in enumerate(names, start=1)
)

UNITS: tuple[Unit, ...] = (CITY, *DEPARTMENTS, *DISTRICTS, *COMMUNES)

# Printed by the dev server: one district, one department, one ward.
FEATURED = ("ngo-quyen", "so-tu-phap", "may-chai")


# --- Catalogue ------------------------------------------------------------------
#
# Each unit's catalogue comes from the city's standard catalogue of its kind
# (app.catalog.standard): ``standard_catalogue(kind)`` gives the raw specs of
# version 1. Departments share one catalogue; each procedure names the
# departments it is for (``only_tenants``). The city itself offers none.


@dataclass(frozen=True)
class Fee:
    description: str
    amount: int  # whole đồng
    kind: str = "charge"  # "charge" = lệ phí, "fee" = phí
    online_amount: int | None = None
    case: str | None = None  # a case code, or None for every case


@dataclass(frozen=True)
class Component:
    name: str
    original_or_copy: str = "original"
    quantity: int = 1
    is_mandatory: bool = True
    # A file name only: the demo ships no template files (placeholders for the form store).
    template_file: str | None = None


@dataclass(frozen=True)
class Case:
    code: str
    name: str
    time_value: float | None = None
    time_unit: str | None = None
    is_default: bool = False


# Legal documents cited by the demo catalogue: number -> (kind, title, issuer, issued on). [M]
LEGAL_DOCUMENTS: dict[str, tuple[str, str, str, str]] = {
    "60/2014/QH13": ("law", "Luật Hộ tịch", "Quốc hội", "2014-11-20"),
    "123/2015/NĐ-CP": (
        "decree",
        "Quy định chi tiết một số điều và biện pháp thi hành Luật Hộ tịch",
        "Chính phủ",
        "2015-11-15",
    ),
    "15/2015/TT-BTP": (
        "circular",
        "Hướng dẫn thi hành Luật Hộ tịch và Nghị định 123/2015/NĐ-CP",
        "Bộ Tư pháp",
        "2015-11-16",
    ),
    "23/2015/NĐ-CP": (
        "decree",
        "Về cấp bản sao từ sổ gốc, chứng thực bản sao từ bản chính, chứng thực chữ ký "
        "và chứng thực hợp đồng, giao dịch",
        "Chính phủ",
        "2015-02-16",
    ),
    "78/2015/NĐ-CP": ("decree", "Về đăng ký doanh nghiệp", "Chính phủ", "2015-09-14"),
    "68/2014/QH13": ("law", "Luật Doanh nghiệp", "Quốc hội", "2014-11-26"),
    "50/2014/QH13": ("law", "Luật Xây dựng", "Quốc hội", "2014-06-18"),
    "45/2013/QH13": ("law", "Luật Đất đai", "Quốc hội", "2013-11-29"),
    "01/2017/NĐ-CP": (
        "decree",
        "Sửa đổi, bổ sung các nghị định quy định chi tiết thi hành Luật Đất đai",
        "Chính phủ",
        "2017-01-06",
    ),
    "28/2009/QH12": ("law", "Luật Lý lịch tư pháp", "Quốc hội", "2009-06-17"),
    "12/2017/TT-BGTVT": (
        "circular",
        "Quy định về đào tạo, sát hạch, cấp giấy phép lái xe cơ giới đường bộ",
        "Bộ Giao thông vận tải",
        "2017-04-15",
    ),
    "10/2012/QH13": ("law", "Bộ luật Lao động", "Quốc hội", "2012-06-18"),
    "11/2016/NĐ-CP": (
        "decree",
        "Quy định chi tiết thi hành một số điều của Bộ luật Lao động "
        "về lao động nước ngoài làm việc tại Việt Nam",
        "Chính phủ",
        "2016-02-03",
    ),
    "72/2013/NĐ-CP": (
        "decree",
        "Quản lý, cung cấp, sử dụng dịch vụ Internet và thông tin trên mạng",
        "Chính phủ",
        "2013-07-15",
    ),
}

_ALL_DELIVERY = ("counter", "online", "postal")

# Channels and result delivery that match each 2019 service level (DOMAIN.md §1.1, §2.2).
_CHANNELS = {1: (1, 3), 2: (1, 3), 3: (1, 2, 3), 4: (1, 2, 3)}
_DELIVERY = {1: ("counter", "postal"), 2: ("counter", "postal"), 3: ("counter", "postal"), 4: _ALL_DELIVERY}


@dataclass(frozen=True)
class ProcedureSpec:
    code: str
    name: str
    sector: str  # a key of SECTORS
    service_level: int
    time_value: float
    time_unit: str  # working_days | calendar_days | same_day | hours
    applicant_types: tuple[str, ...] = ("citizen",)
    fees: tuple[Fee, ...] = ()
    components: tuple[Component, ...] = ()
    cases: tuple[Case, ...] = ()
    legal_basis: str | None = None
    legal_documents: tuple[str, ...] = ()  # keys of LEGAL_DOCUMENTS
    result_document_type: str | None = None
    channels: tuple[int, ...] | None = None  # None: as the level allows (1 counter, 2 online, 3 postal)
    result_delivery: tuple[str, ...] | None = None
    online_time_value: float | None = None

    @property
    def is_same_day_return(self) -> bool:
        return self.time_unit == "same_day"

    def to_raw(self, only_tenants: tuple[str, ...] = ()) -> dict:
        """The spec as the standard catalogue takes it (``app.catalog.specs.check_spec``)."""
        return {
            "code": self.code,
            "name": self.name,
            "sector": {"code": self.sector, "name": SECTORS[self.sector]},
            "service_level": self.service_level,
            "time_value": self.time_value,
            "time_unit": self.time_unit,
            "online_time_value": self.online_time_value,
            "applicant_types": list(self.applicant_types),
            "channels": list(self.channels or _CHANNELS[self.service_level]),
            "result_delivery": list(self.result_delivery or _DELIVERY[self.service_level]),
            "result_document_type": self.result_document_type,
            "legal_basis": self.legal_basis,
            "legal_documents": [
                dict(
                    zip(
                        ("number", "kind", "title", "issuer", "issued_on"),
                        (n, *LEGAL_DOCUMENTS[n]),
                        strict=True,
                    )
                )
                for n in self.legal_documents
            ],
            "cases": [vars(c) | {"online_time_value": None} for c in self.cases],
            "components": [
                vars(c) | {"code": f"TP{i:02d}", "case": None} for i, c in enumerate(self.components, 1)
            ],
            "fees": [vars(f) for f in self.fees],
            "only_tenants": list(only_tenants),
        }


SECTORS = {
    "ho-tich": "Hộ tịch",
    "chung-thuc": "Chứng thực",
    "ho-kinh-doanh": "Thành lập và hoạt động của hộ kinh doanh",
    "doanh-nghiep": "Thành lập và hoạt động của doanh nghiệp",
    "xay-dung": "Hoạt động xây dựng",
    "dat-dai": "Đất đai",
    "ly-lich-tu-phap": "Lý lịch tư pháp",
    "duong-bo": "Đường bộ",
    "lao-dong": "Việc làm, lao động nước ngoài",
    "thong-tin-dien-tu": "Phát thanh, truyền hình và thông tin điện tử",
    "to-chuc-phi-chinh-phu": "Tổ chức phi chính phủ",
    "tai-chinh": "Quản lý ngân sách",
    "xuc-tien-thuong-mai": "Lưu thông hàng hóa trong nước",
    "an-toan-thuc-pham": "Quản lý chất lượng nông lâm sản và thủy sản",
    "quy-hoach": "Quy hoạch xây dựng, kiến trúc",
    "nghe-thuat-bieu-dien": "Nghệ thuật biểu diễn",
    "lu-hanh": "Lữ hành",
    "khoa-hoc-cong-nghe": "Hoạt động khoa học và công nghệ",
    "giao-duc": "Giáo dục trung học",
    "kham-chua-benh": "Khám bệnh, chữa bệnh",
    "hop-tac-quoc-te": "Hợp tác quốc tế",
}

_ID = Component("Giấy tờ tùy thân của người nộp hồ sơ (xuất trình)", "original")
_CIVIL_STATUS_LAW = "Luật Hộ tịch năm 2014; Nghị định 123/2015/NĐ-CP"
_CERTIFICATION = "Nghị định 23/2015/NĐ-CP về chứng thực"
_CIVIL_STATUS_DOCS = ("60/2014/QH13", "123/2015/NĐ-CP", "15/2015/TT-BTP")
# Shown in person: the original must be seen, or both parties must appear.
_IN_PERSON = {"channels": (1,), "result_delivery": ("counter",)}
_COPY_FEES = (
    Fee("Phí chứng thực bản sao: trang thứ nhất và thứ hai, mỗi trang", 2_000, "fee"),
    Fee("Phí chứng thực bản sao: từ trang thứ ba, mỗi trang (tối đa 200.000 đồng/bản)", 1_000, "fee"),
)

PROCEDURES: dict[str, ProcedureSpec] = {
    p.code: p
    for p in (
        # --- commune / ward (DOMAIN.md §7.1) ---
        ProcedureSpec(
            "1.001193",
            "Đăng ký khai sinh",
            "ho-tich",
            3,
            1,
            "same_day",
            fees=(
                Fee("Lệ phí đăng ký khai sinh đúng hạn (miễn)", 0),
                Fee("Lệ phí đăng ký khai sinh quá hạn (demo, theo Nghị quyết HĐND)", 8_000),
            ),
            components=(
                Component(
                    "Tờ khai đăng ký khai sinh (theo mẫu)", template_file="to-khai-dang-ky-khai-sinh.docx"
                ),
                Component("Giấy chứng sinh hoặc giấy tờ thay thế"),
                _ID,
            ),
            legal_basis=_CIVIL_STATUS_LAW,
            legal_documents=_CIVIL_STATUS_DOCS,
            result_document_type="Giấy khai sinh",
        ),
        ProcedureSpec(
            "1.000656",
            "Đăng ký khai tử",
            "ho-tich",
            3,
            1,
            "same_day",
            fees=(Fee("Lệ phí đăng ký khai tử đúng hạn (miễn)", 0),),
            components=(
                Component("Tờ khai đăng ký khai tử (theo mẫu)", template_file="to-khai-dang-ky-khai-tu.docx"),
                Component("Giấy báo tử"),
                _ID,
            ),
            legal_basis=_CIVIL_STATUS_LAW,
            legal_documents=_CIVIL_STATUS_DOCS,
            result_document_type="Trích lục khai tử",
        ),
        ProcedureSpec(
            "1.000894",
            "Đăng ký kết hôn",
            "ho-tich",
            2,
            1,
            "same_day",
            fees=(Fee("Lệ phí đăng ký kết hôn (miễn đối với công dân Việt Nam cư trú trong nước)", 0),),
            components=(
                Component("Tờ khai đăng ký kết hôn (theo mẫu)", template_file="to-khai-dang-ky-ket-hon.docx"),
                Component(
                    "Giấy xác nhận tình trạng hôn nhân (khi đăng ký tại nơi không thường trú)",
                    is_mandatory=False,
                ),
                _ID,
            ),
            cases=(
                Case("thuong", "Trường hợp thông thường", is_default=True),
                Case("xac-minh", "Trường hợp cần xác minh", 5, "working_days"),
            ),
            legal_basis=_CIVIL_STATUS_LAW,
            legal_documents=_CIVIL_STATUS_DOCS,
            result_document_type="Giấy chứng nhận kết hôn",
            **_IN_PERSON,
        ),
        ProcedureSpec(
            "1.004873",
            "Cấp Giấy xác nhận tình trạng hôn nhân",
            "ho-tich",
            3,
            3,
            "working_days",
            fees=(Fee("Lệ phí (demo, theo Nghị quyết HĐND)", 10_000),),
            components=(
                Component(
                    "Tờ khai cấp Giấy xác nhận tình trạng hôn nhân (theo mẫu)",
                    template_file="to-khai-xac-nhan-tinh-trang-hon-nhan.docx",
                ),
                _ID,
            ),
            legal_basis=_CIVIL_STATUS_LAW,
            legal_documents=_CIVIL_STATUS_DOCS,
            result_document_type="Giấy xác nhận tình trạng hôn nhân",
        ),
        ProcedureSpec(
            "2.000815",
            "Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền của Việt Nam cấp",
            "chung-thuc",
            2,
            1,
            "same_day",
            fees=_COPY_FEES,
            components=(
                Component("Bản chính giấy tờ, văn bản làm cơ sở để chứng thực bản sao"),
                Component("Bản sao cần chứng thực", "copy"),
            ),
            legal_basis=_CERTIFICATION,
            legal_documents=("23/2015/NĐ-CP",),
            result_document_type="Bản sao được chứng thực",
            **_IN_PERSON,
        ),
        ProcedureSpec(
            "2.000884",
            "Chứng thực chữ ký trong các giấy tờ, văn bản",
            "chung-thuc",
            2,
            1,
            "same_day",
            fees=(Fee("Phí chứng thực chữ ký, mỗi trường hợp", 10_000, "fee"),),
            components=(Component("Giấy tờ, văn bản cần chứng thực chữ ký"), _ID),
            legal_basis=_CERTIFICATION,
            legal_documents=("23/2015/NĐ-CP",),
            result_document_type="Giấy tờ, văn bản đã được chứng thực chữ ký",
            **_IN_PERSON,
        ),
        # --- district (DOMAIN.md §7.2) ---
        ProcedureSpec(
            "2.000720",
            "Đăng ký thành lập hộ kinh doanh",
            "ho-kinh-doanh",
            4,
            3,
            "working_days",
            applicant_types=("citizen",),
            fees=(Fee("Lệ phí đăng ký hộ kinh doanh (demo, theo Nghị quyết HĐND)", 100_000),),
            components=(
                Component(
                    "Giấy đề nghị đăng ký hộ kinh doanh (theo mẫu)",
                    template_file="giay-de-nghi-dang-ky-ho-kinh-doanh.docx",
                ),
                Component("Bản sao giấy tờ pháp lý của cá nhân chủ hộ kinh doanh", "copy"),
            ),
            legal_basis="Nghị định 78/2015/NĐ-CP về đăng ký doanh nghiệp",
            legal_documents=("78/2015/NĐ-CP",),
            result_document_type="Giấy chứng nhận đăng ký hộ kinh doanh",
        ),
        ProcedureSpec(
            "DEMO-H-XD01",
            "Cấp giấy phép xây dựng nhà ở riêng lẻ",
            "xay-dung",
            3,
            15,
            "calendar_days",
            fees=(Fee("Lệ phí cấp giấy phép xây dựng nhà ở riêng lẻ (demo, theo Nghị quyết HĐND)", 75_000),),
            components=(
                Component("Đơn đề nghị cấp giấy phép xây dựng (theo mẫu)"),
                Component("Bản sao giấy tờ chứng minh quyền sử dụng đất", "copy"),
                Component("Bản vẽ thiết kế xây dựng", "original", quantity=2),
            ),
            legal_basis="Luật Xây dựng năm 2014",
            legal_documents=("50/2014/QH13",),
            result_document_type="Giấy phép xây dựng",
        ),
        ProcedureSpec(
            "DEMO-H-HT01",
            "Đăng ký kết hôn có yếu tố nước ngoài",
            "ho-tich",
            2,
            15,
            "calendar_days",
            fees=(
                Fee("Lệ phí đăng ký kết hôn có yếu tố nước ngoài (demo, theo Nghị quyết HĐND)", 1_000_000),
            ),
            components=(
                Component("Tờ khai đăng ký kết hôn (theo mẫu)"),
                Component("Giấy xác nhận của tổ chức y tế về sức khỏe tâm thần"),
                Component("Bản sao hộ chiếu hoặc giấy tờ thay thế", "copy"),
            ),
            legal_basis=_CIVIL_STATUS_LAW,
            legal_documents=_CIVIL_STATUS_DOCS,
            result_document_type="Giấy chứng nhận kết hôn",
        ),
        ProcedureSpec(
            "DEMO-H-CT01",
            "Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền của nước ngoài cấp",
            "chung-thuc",
            2,
            1,
            "same_day",
            fees=_COPY_FEES,
            components=(
                Component("Bản chính giấy tờ, văn bản đã được hợp pháp hóa lãnh sự"),
                Component("Bản sao cần chứng thực", "copy"),
            ),
            legal_basis=_CERTIFICATION,
            legal_documents=("23/2015/NĐ-CP",),
            result_document_type="Bản sao được chứng thực",
            **_IN_PERSON,
        ),
        ProcedureSpec(
            "DEMO-H-DD01",
            "Cấp Giấy chứng nhận quyền sử dụng đất, quyền sở hữu nhà ở và tài sản khác gắn liền với đất "
            "lần đầu",
            "dat-dai",
            2,
            30,
            "calendar_days",
            fees=(
                Fee("Lệ phí cấp Giấy chứng nhận (demo, theo Nghị quyết HĐND)", 100_000),
                Fee("Phí thẩm định hồ sơ cấp Giấy chứng nhận (demo, theo Nghị quyết HĐND)", 500_000, "fee"),
            ),
            components=(
                Component("Đơn đăng ký, cấp Giấy chứng nhận (theo mẫu)"),
                Component("Giấy tờ về quyền sử dụng đất", "certified_copy"),
                Component("Chứng từ thực hiện nghĩa vụ tài chính", "copy", is_mandatory=False),
            ),
            legal_basis="Luật Đất đai năm 2013; Nghị định 01/2017/NĐ-CP",
            legal_documents=("45/2013/QH13", "01/2017/NĐ-CP"),
            result_document_type="Giấy chứng nhận quyền sử dụng đất",
        ),
        # --- departments (DOMAIN.md §7.3) ---
        ProcedureSpec(
            "DEMO-S-TP01",
            "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
            "ly-lich-tu-phap",
            3,
            10,
            "calendar_days",
            fees=(
                Fee("Phí cung cấp thông tin lý lịch tư pháp", 200_000, "fee", case="thuong"),
                Fee(
                    "Phí cung cấp thông tin lý lịch tư pháp (sinh viên, người có công)",
                    100_000,
                    "fee",
                    case="uu-dai",
                ),
            ),
            components=(
                Component(
                    "Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp (theo mẫu)",
                    template_file="to-khai-ly-lich-tu-phap.docx",
                ),
                Component("Bản chụp giấy tờ tùy thân", "copy"),
                Component("Bản chụp sổ hộ khẩu hoặc giấy chứng nhận thường trú", "copy"),
            ),
            cases=(
                Case("thuong", "Trường hợp thông thường", is_default=True),
                Case("uu-dai", "Sinh viên, người có công với cách mạng"),
            ),
            legal_basis="Luật Lý lịch tư pháp năm 2009",
            legal_documents=("28/2009/QH12",),
            result_document_type="Phiếu lý lịch tư pháp",
        ),
        ProcedureSpec(
            "DEMO-S-KH01",
            "Đăng ký thành lập doanh nghiệp",
            "doanh-nghiep",
            4,
            3,
            "working_days",
            applicant_types=("citizen", "enterprise"),
            fees=(Fee("Lệ phí đăng ký doanh nghiệp (miễn khi nộp trực tuyến)", 50_000, online_amount=0),),
            components=(
                Component(
                    "Giấy đề nghị đăng ký doanh nghiệp (theo mẫu)",
                    template_file="giay-de-nghi-dang-ky-doanh-nghiep.docx",
                ),
                Component("Điều lệ công ty"),
                Component("Danh sách thành viên hoặc cổ đông sáng lập", is_mandatory=False),
                Component("Bản sao giấy tờ pháp lý của cá nhân", "copy"),
            ),
            legal_basis="Luật Doanh nghiệp năm 2014; Nghị định 78/2015/NĐ-CP",
            legal_documents=("68/2014/QH13", "78/2015/NĐ-CP"),
            result_document_type="Giấy chứng nhận đăng ký doanh nghiệp",
        ),
        ProcedureSpec(
            "DEMO-S-GT01",
            "Đổi giấy phép lái xe do ngành Giao thông vận tải cấp",
            "duong-bo",
            4,
            5,
            "working_days",
            fees=(Fee("Lệ phí cấp đổi giấy phép lái xe", 135_000),),
            components=(
                Component(
                    "Đơn đề nghị đổi giấy phép lái xe (theo mẫu)", template_file="don-de-nghi-doi-gplx.docx"
                ),
                Component("Giấy khám sức khỏe của người lái xe"),
                Component("Bản sao giấy phép lái xe", "copy"),
            ),
            legal_basis="Thông tư 12/2017/TT-BGTVT",
            legal_documents=("12/2017/TT-BGTVT",),
            result_document_type="Giấy phép lái xe",
        ),
        ProcedureSpec(
            "DEMO-S-XD01",
            "Cấp giấy phép xây dựng công trình cấp I, cấp II; công trình tôn giáo",
            "xay-dung",
            3,
            20,
            "calendar_days",
            applicant_types=("citizen", "enterprise", "organisation"),
            fees=(Fee("Lệ phí cấp giấy phép xây dựng (demo, theo Nghị quyết HĐND)", 150_000),),
            components=(
                Component("Đơn đề nghị cấp giấy phép xây dựng (theo mẫu)"),
                Component("Bản sao giấy tờ chứng minh quyền sử dụng đất", "copy"),
                Component("Bản vẽ thiết kế xây dựng", quantity=2),
            ),
            legal_basis="Luật Xây dựng năm 2014",
            legal_documents=("50/2014/QH13",),
            result_document_type="Giấy phép xây dựng",
        ),
        ProcedureSpec(
            "DEMO-S-LD01",
            "Cấp giấy phép lao động cho người lao động nước ngoài làm việc tại Việt Nam",
            "lao-dong",
            3,
            5,
            "working_days",
            applicant_types=("enterprise", "organisation"),
            fees=(Fee("Lệ phí cấp giấy phép lao động (demo, theo Nghị quyết HĐND)", 600_000),),
            components=(
                Component("Văn bản đề nghị cấp giấy phép lao động (theo mẫu)"),
                Component("Giấy chứng nhận sức khỏe"),
                Component("Phiếu lý lịch tư pháp"),
                Component("Bản sao hộ chiếu", "certified_copy"),
            ),
            legal_basis="Bộ luật Lao động năm 2012; Nghị định 11/2016/NĐ-CP",
            legal_documents=("10/2012/QH13", "11/2016/NĐ-CP"),
            result_document_type="Giấy phép lao động",
        ),
        ProcedureSpec(
            "DEMO-S-TT01",
            "Cấp giấy phép thiết lập trang thông tin điện tử tổng hợp",
            "thong-tin-dien-tu",
            3,
            10,
            "working_days",
            applicant_types=("enterprise", "organisation"),
            components=(
                Component("Đơn đề nghị cấp giấy phép (theo mẫu)"),
                Component("Đề án hoạt động trang thông tin điện tử tổng hợp"),
            ),
            legal_basis="Nghị định 72/2013/NĐ-CP",
            legal_documents=("72/2013/NĐ-CP",),
            result_document_type="Giấy phép thiết lập trang thông tin điện tử tổng hợp",
        ),
        # --- departments not in §7.3: one plausible entry each, all (demo) ---
        *(
            ProcedureSpec(
                code,
                name,
                sector,
                3,
                days,
                "working_days",
                applicant_types=applicants,
                components=(Component("Văn bản đề nghị (theo mẫu)"), Component("Hồ sơ kèm theo", "copy")),
                result_document_type="(demo)",
            )
            for code, name, sector, days, applicants in (
                (
                    "DEMO-S-NV01",
                    "Công nhận ban vận động thành lập hội",
                    "to-chuc-phi-chinh-phu",
                    30,
                    ("citizen",),
                ),
                (
                    "DEMO-S-TC01",
                    "Đăng ký mã số đơn vị có quan hệ với ngân sách",
                    "tai-chinh",
                    2,
                    ("organisation",),
                ),
                (
                    "DEMO-S-CT01",
                    "Cấp giấy phép bán buôn sản phẩm rượu",
                    "xuc-tien-thuong-mai",
                    15,
                    ("enterprise",),
                ),
                (
                    "DEMO-S-NN01",
                    "Cấp giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm nông lâm thủy sản",
                    "an-toan-thuc-pham",
                    15,
                    ("enterprise", "citizen"),
                ),
                (
                    "DEMO-S-QH01",
                    "Cung cấp thông tin về quy hoạch",
                    "quy-hoach",
                    15,
                    ("citizen", "enterprise"),
                ),
                (
                    "DEMO-S-TN01",
                    "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
                    "dat-dai",
                    10,
                    ("citizen", "enterprise"),
                ),
                (
                    "DEMO-S-VH01",
                    "Cấp giấy phép tổ chức biểu diễn nghệ thuật",
                    "nghe-thuat-bieu-dien",
                    5,
                    ("organisation",),
                ),
                (
                    "DEMO-S-DL01",
                    "Cấp giấy phép kinh doanh dịch vụ lữ hành nội địa",
                    "lu-hanh",
                    10,
                    ("enterprise",),
                ),
                (
                    "DEMO-S-KC01",
                    "Cấp giấy chứng nhận đăng ký hoạt động khoa học và công nghệ",
                    "khoa-hoc-cong-nghe",
                    15,
                    ("organisation",),
                ),
                (
                    "DEMO-S-GD01",
                    "Chuyển trường đối với học sinh trung học phổ thông",
                    "giao-duc",
                    3,
                    ("citizen",),
                ),
                (
                    "DEMO-S-YT01",
                    "Cấp chứng chỉ hành nghề khám bệnh, chữa bệnh",
                    "kham-chua-benh",
                    20,
                    ("citizen",),
                ),
                (
                    "DEMO-S-NG01",
                    "Cho phép tổ chức hội nghị, hội thảo quốc tế",
                    "hop-tac-quoc-te",
                    15,
                    ("organisation",),
                ),
            )
        ),
    )
}

COMMUNE_SET = ("1.001193", "1.000656", "1.000894", "1.004873", "2.000815", "2.000884")
DISTRICT_SET = ("2.000720", "DEMO-H-XD01", "DEMO-H-HT01", "DEMO-H-CT01", "DEMO-H-DD01")
# Department slug -> its procedures. The city office and the inspectorate supervise: none.
DEPARTMENT_SETS = {
    "so-noi-vu": ("DEMO-S-NV01",),
    "so-tu-phap": ("DEMO-S-TP01",),
    "so-ke-hoach-va-dau-tu": ("DEMO-S-KH01",),
    "so-tai-chinh": ("DEMO-S-TC01",),
    "so-cong-thuong": ("DEMO-S-CT01",),
    "so-nong-nghiep-va-phat-trien-nong-thon": ("DEMO-S-NN01",),
    "so-giao-thong-van-tai": ("DEMO-S-GT01",),
    "so-xay-dung": ("DEMO-S-XD01",),
    "so-quy-hoach-kien-truc": ("DEMO-S-QH01",),
    "so-tai-nguyen-va-moi-truong": ("DEMO-S-TN01",),
    "so-thong-tin-va-truyen-thong": ("DEMO-S-TT01",),
    "so-lao-dong-thuong-binh-va-xa-hoi": ("DEMO-S-LD01",),
    "so-van-hoa-va-the-thao": ("DEMO-S-VH01",),
    "so-du-lich": ("DEMO-S-DL01",),
    "so-khoa-hoc-va-cong-nghe": ("DEMO-S-KC01",),
    "so-giao-duc-va-dao-tao": ("DEMO-S-GD01",),
    "so-y-te": ("DEMO-S-YT01",),
    "so-ngoai-vu": ("DEMO-S-NG01",),
    "ban-quan-ly-khu-kinh-te-hai-phong": ("DEMO-S-LD01",),
}
# Districts without a commune level offer the commune procedures themselves (Bạch Long Vĩ).
_COMMUNE_LEVEL_DISTRICTS = tuple(d.slug for d in DISTRICTS if "commune" in d.extra_sets)


def standard_catalogue(kind: str) -> list[dict]:
    """Version 1 of the city's standard catalogue for a unit kind, as raw specs (the city: none)."""
    if kind == "commune":
        return [PROCEDURES[code].to_raw() for code in COMMUNE_SET]
    if kind == "district":
        own = [PROCEDURES[code].to_raw() for code in DISTRICT_SET]
        extra = [
            PROCEDURES[code].to_raw(_COMMUNE_LEVEL_DISTRICTS)
            for code in COMMUNE_SET
            if code not in DISTRICT_SET
        ]
        return own + extra
    if kind == "department":
        audience: dict[str, list[str]] = {}
        for slug, codes in DEPARTMENT_SETS.items():
            for code in codes:
                audience.setdefault(code, []).append(slug)
        return [PROCEDURES[code].to_raw(tuple(slugs)) for code, slugs in audience.items()]
    return []


def catalog_for(unit: Unit) -> tuple[ProcedureSpec, ...]:
    """The procedures a unit receives from its kind's standard catalogue."""
    return tuple(
        PROCEDURES[raw["code"]]
        for raw in standard_catalogue(unit.kind)
        if not raw["only_tenants"] or unit.slug in raw["only_tenants"]
    )
