"""Each recognizer through the rules-only detector: true positives, near misses, checksum failures."""

import pytest

from pipeline.core.detection import RuleDetector
from pipeline.core.phi_types import PhiType

DETECTOR = RuleDetector()


def found(text: str, phi_type: PhiType) -> list[str]:
    return [text[s.start : s.end] for s in DETECTOR.detect(text) if s.type is phi_type]


def covered(text: str) -> list[str]:
    return [text[s.start : s.end] for s in DETECTOR.detect(text)]


# --- SSN ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("SSN 123-45-6780 on file", "123-45-6780"),
        ("ssn: 123456780.", "123456780"),
        ("pt ss# 772 12 3456", "772 12 3456"),
    ],
)
def test_ssn_found(text, value):
    assert found(text, PhiType.SSN) == [value]


@pytest.mark.parametrize("text", ["SSN 000-12-3456", "SSN 666-45-6780", "SSN 123-00-6780", "code 1234-56-7890"])
def test_ssn_invalid_structure_is_not_an_ssn(text):
    assert found(text, PhiType.SSN) == []


def test_bare_nine_digits_need_context():
    assert found("lot 123456780 used", PhiType.SSN) == []


# --- phone / fax -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["(617) 555-0134", "617-555-0134", "617.555.0134", "+1 617 555 0134", "1-617-555-0134", "617-555-0134 x22"],
)
def test_phone_formats(value):
    assert found(f"Call {value} today", PhiType.PHONE) == [value]


def test_bare_ten_digits_need_a_cue():
    assert found("cell 6175550134", PhiType.PHONE) == ["6175550134"]
    assert found("ref 6175550134", PhiType.PHONE) == []


def test_fax_and_pager_cues():
    text = "Tel 617-555-0134, fax 617-555-0199, pager 617-555-0100"
    assert found(text, PhiType.FAX) == ["617-555-0199"]
    assert found(text, PhiType.PHONE) == ["617-555-0134", "617-555-0100"]


def test_fax_cue_after_number():
    assert found("930.167.3943 fax", PhiType.FAX) == ["930.167.3943"]


def test_international_phone():
    assert found("Mobile: +44 20 7946 0958", PhiType.PHONE) == ["+44 20 7946 0958"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("DAUGHTER-ANN---312 555-0178 & SON", "312 555-0178"),  # glued to dashes
        ("they can be reached at 312 5550178. pt has", "312 5550178"),  # 3-7 grouping
        ("his wife (312/555/0178) confirms", "312/555/0178"),  # slashes
        ("call 617555-0142 x212 after 5", "617555-0142 x212"),  # run-on, with its extension
        ("office (617) 555-0142 ext. 33 or", "(617) 555-0142 ext. 33"),
    ],
)
def test_phone_shapes_libphonenumber_finds(text, value):
    assert found(text, PhiType.PHONE) == [value]


@pytest.mark.parametrize(
    "text",
    ["ABG 7.34/41/104/23 on 40%", "abg=70/57/7.33/31/1. weaned", "login from 216.57.185.72 flagged"],
)
def test_lab_values_and_addresses_are_not_phones(text):
    assert found(text, PhiType.PHONE) == []


# --- email / url / ip --------------------------------------------------------------------------


def test_email():
    assert found("write to jane.doe+x@mail.example.org.", PhiType.EMAIL) == ["jane.doe+x@mail.example.org"]
    assert found("jane at example dot org", PhiType.EMAIL) == []


def test_url_with_scheme_and_bare_domain():
    text = "Portal https://my.example.org/p?id=3, also www.clinic.com and example.health."
    assert found(text, PhiType.URL) == ["https://my.example.org/p?id=3", "www.clinic.com", "example.health"]


def test_filename_is_not_a_url():
    assert found("see report.pdf", PhiType.URL) == []


def test_ipv4_range_validity():
    assert found("login from 10.20.30.40", PhiType.IP) == ["10.20.30.40"]
    assert found("from 300.20.30.40", PhiType.IP) == []


def test_ipv6_and_times_are_told_apart():
    assert found("host 2001:db8::8a2e:370:7334 up", PhiType.IP) == ["2001:db8::8a2e:370:7334"]
    assert found("at 10:30:00 today", PhiType.IP) == []


# --- labelled identifiers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phi_type", "value"),
    [
        ("MRN: 00123456", PhiType.MRN, "00123456"),
        ("Medical record number 7788123", PhiType.MRN, "7788123"),
        ("Member ID XJ4412345", PhiType.HEALTH_PLAN, "XJ4412345"),
        ("Medicaid # 99887766A", PhiType.HEALTH_PLAN, "99887766A"),
        ("Acct # 55-20931", PhiType.ACCOUNT, "55-20931"),
        ("License no. RN-558812", PhiType.LICENSE, "RN-558812"),
        ("license plate 7ABC123", PhiType.VEHICLE, "7ABC123"),
        ("pacemaker serial PM55X1209", PhiType.DEVICE, "PM55X1209"),
        ("S/N: 4471-99812", PhiType.DEVICE, "4471-99812"),
        ("ARRIVED BY AMBULANCE XC 3145. SEEN BY", PhiType.VEHICLE, "XC 3145"),
        ("Home address is in Allston; transport van 6UPZ415.", PhiType.VEHICLE, "6UPZ415"),
        ("Voice ID VP4139081 verified before release", PhiType.BIOMETRIC, "VP4139081"),
        ("PALM VEIN SCAN BIO-DL27010 ON FILE", PhiType.BIOMETRIC, "BIO-DL27010"),
        ("Passport number UTA-1485 copied for the chart", PhiType.ID, "UTA-1485"),
        ("my study id is 32-76120 for the visit", PhiType.ID, "32-76120"),
        ("10.241.16.43 flagged; user blaurent65.", PhiType.ID, "blaurent65"),
        ("flagged; user lee.khan. Next", PhiType.ID, "lee.khan"),
        ("my username is parka and i cant log in", PhiType.ID, "parka"),
        ("my usernmae is taylorj and I cant", PhiType.ID, "taylorj"),
    ],
)
def test_labelled_identifiers(text, phi_type, value):
    assert found(text, phi_type) == [value]


@pytest.mark.parametrize(
    "text",
    [
        "ARRIVED BY AMBULANCE AT 1400 FROM HOME",
        "came by car 15 MIN ago",
        "BY CAR 15 MIN LATER",
        "the user interface was slow",
        "the van was late",
    ],
)
def test_vehicle_and_user_words_without_an_identifier(text):
    assert found(text, PhiType.VEHICLE) == [] and found(text, PhiType.ID) == []


def test_label_without_a_number_is_not_an_identifier():
    assert found("MRN pending", PhiType.MRN) == []
    assert found("chart reviewed", PhiType.MRN) == []


def test_icd_codes_are_not_device_ids():
    assert covered("Dx ICD-10 I50.9") == []


# --- cards, NPI, DEA, VIN ----------------------------------------------------------------------


def test_payment_card_passes_luhn():
    assert found("card 4111 1111 1111 1111 exp", PhiType.ACCOUNT) == ["4111 1111 1111 1111"]


def test_payment_card_failing_luhn_without_label_is_not_an_account():
    assert found("ref 4111 1111 1111 1112 x", PhiType.ACCOUNT) == []


def test_npi_with_context_and_checksum():
    spans = [s for s in DETECTOR.detect("NPI 1234567893") if s.type is PhiType.LICENSE]
    assert len(spans) == 1
    assert "checksum:npi" in spans[0].reasons
    assert found("NPI 1234567894", PhiType.LICENSE) == []


def test_dea_checksum_and_context():
    assert found("DEA AB1234563", PhiType.LICENSE) == ["AB1234563"]
    assert found("code AB1234564", PhiType.LICENSE) == []


def test_vin_check_digit_or_cue():
    assert found("car 1HGCM82633A004352 towed", PhiType.VEHICLE) == ["1HGCM82633A004352"]
    assert found("code 1HGCM82643A004352", PhiType.VEHICLE) == []
    assert found("VIN 1HGCM82643A004352", PhiType.VEHICLE) == ["1HGCM82643A004352"]


def test_iban():
    assert found("pay to GB82 WEST 1234 5698 7654 32", PhiType.ACCOUNT) == ["GB82 WEST 1234 5698 7654 32"]


# --- ZIP ---------------------------------------------------------------------------------------


def test_zip_needs_context():
    assert found("Zip: 02114", PhiType.ZIP) == ["02114"]
    assert found("Boston, MA 02114-3117", PhiType.ZIP) == ["02114-3117"]
    assert found("WBC 12000 and 45000", PhiType.ZIP) == []


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "3/14/62", "03/14/1962", "2026-03-14", "14-Mar-1962", "March 14th", "14 March 2026", "Mar 14",
        "March 14, 2026", "14th of March", "MAR 14 2026", "2026-03-14T10:30:00Z", "03/14/1962 at 10:30 AM",
        "March 2026",
    ],
)  # fmt: skip
def test_date_formats(value):
    assert found(f"Seen {value} in clinic", PhiType.DATE) == [value]


@pytest.mark.parametrize("text", ["13/45/2020 x", "02/30/2020 x", "version 1.2.3", "Feb 30"])
def test_invalid_calendar_dates_are_rejected(text):
    assert found(text, PhiType.DATE) == []


def test_short_month_day_needs_context():
    assert found("admitted 2/3 for pain", PhiType.DATE) == ["2/3"]
    assert found("take 1/2 tab", PhiType.DATE) == []
    assert found("pain 7/10 today", PhiType.DATE) == []


def test_ordinal_day_with_context():
    assert found("returns on the 14th", PhiType.DATE) == ["14th"]
    assert found("on the 3rd floor", PhiType.DATE) == []


def test_lowercase_may_is_a_word():
    assert found("you may 2 times daily", PhiType.DATE) == []


def test_year_alone_is_not_phi():
    assert found("diagnosed in 2019", PhiType.DATE) == []


# --- ages --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"), [("92 yo F", "92"), ("a 95-year-old man", "95"), ("aged 91", "91"), ("age: 104", "104")]
)
def test_ages_over_89(text, value):
    assert found(text, PhiType.AGE) == [value]


@pytest.mark.parametrize("text", ["89 yo F", "a 45-year-old man", "aged 60"])
def test_ages_89_and_under_are_not_phi(text):
    assert found(text, PhiType.AGE) == []


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Seen by Dr. Lee today", "Lee"),
        ("Mr. Smith reports pain", "Smith"),
        ("seen by K. Patel RN", "K. Patel"),
        ("husband Jim at bedside", "Jim"),
        ("DTR MARY AT BEDSIDE", "MARY"),
        ("Patient: John Doe", "John Doe"),
        ("Note signed by Alice Walker, MD", "Alice Walker"),
        ("my name is john", "john"),
    ],
)
def test_names_from_context(text, value):
    assert found(text, PhiType.NAME) == [value]


@pytest.mark.parametrize(
    "text", ["Patient was seen by Cardiology", "SON WAS HERE", "Dr. appointment today", "Discussed with Team"]
)
def test_context_words_without_a_name(text):
    assert found(text, PhiType.NAME) == []


# --- places ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["Mercy General Hospital", "Massachusetts General Hospital", "St. Mary's Medical Center", "Lakeside Family Clinic"],
)
def test_facilities(value):
    assert found(f"transferred to {value} yesterday", PhiType.FACILITY) == [value]


def test_generic_hospital_word_is_not_a_facility():
    assert found("transferred to the hospital", PhiType.FACILITY) == []


def test_street_address_with_city_and_zip():
    text = "Lives at 42 Elm Street, Apt 3, Springfield, IL 62704 with wife"
    assert found(text, PhiType.STREET) == ["42 Elm Street, Apt 3"]
    assert found(text, PhiType.CITY) == ["Springfield"]
    assert found(text, PhiType.ZIP) == ["62704"]


def test_po_box_and_city_cue():
    assert found("mail to PO Box 1234", PhiType.STREET) == ["PO Box 1234"]
    assert found("she lives in Cedar Rapids now", PhiType.CITY) == ["Cedar Rapids"]


def test_ambiguous_state_code_is_not_enough():
    assert found("Lee, MD", PhiType.CITY) == []


# --- reasons never carry values ----------------------------------------------------------------


def test_reasons_hold_no_values():
    text = "Patient: John Doe, SSN 123-45-6780, MRN 00123456, call 617-555-0134, 03/14/1962"
    for span in DETECTOR.detect(text):
        value = text[span.start : span.end]
        for reason in span.reasons:
            assert value.lower() not in reason.lower()


def test_clean_clinical_text_has_no_spans():
    text = "Pt ambulating, denies chest pain. BP 120/80, HR 72. Continue metoprolol 25 mg PO BID. Labs stable."
    assert covered(text) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [("RE: MX. SCHULZ\n\nHE HAS A PACEMAKER", "SCHULZ"), ("0610 PT WALKER RESTING IN BED.", "WALKER")],
)
def test_caps_names_after_mx_and_in_nursing_shorthand(text, value):
    assert found(text, PhiType.NAME) == [value]


def test_pt_followed_by_a_plain_word_is_not_a_name():
    assert found("PT ALERT AND ORIENTED, PT TOLERATED DIET", PhiType.NAME) == []


def test_name_words_after_a_title_or_relation_are_names():
    from pipeline.core.detection.rule_detector import RuleDetector

    detector = RuleDetector()
    for text, name in [
        ("Discussed with Dr. May, pager 555-1234.", "May"),
        ("Wife April at bedside.", "April"),
        ("Seen by Dr. Park today.", "Park"),
        ("Dr. English will call.", "English"),
    ]:
        found = [text[s.start : s.end] for s in detector.detect(text) if s.type.value == "NAME"]
        assert name in found, text
    for text in ("Patient may go home. Follow up in May.", "WIFE CALLED TODAY", "Park the car."):
        assert not [s for s in detector.detect(text) if s.type.value == "NAME"], text
