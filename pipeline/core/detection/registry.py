"""The default set of recognizers: one instance of each, in no particular order (the ensemble decides)."""

from __future__ import annotations

from pipeline.core.detection.base import Recognizer
from pipeline.core.detection.recognizers import labeled
from pipeline.core.detection.recognizers.ages import AgeOver89Recognizer
from pipeline.core.detection.recognizers.contact import (
    EmailRecognizer,
    Ipv4Recognizer,
    Ipv6Recognizer,
    PagerRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
)
from pipeline.core.detection.recognizers.dates import DateRecognizer
from pipeline.core.detection.recognizers.names import LexiconNameRecognizer, NameRecognizer
from pipeline.core.detection.recognizers.numbers import (
    DeaRecognizer,
    GenericIdRecognizer,
    IbanRecognizer,
    NpiRecognizer,
    PaymentCardRecognizer,
    SsnRecognizer,
    VinRecognizer,
)
from pipeline.core.detection.recognizers.places import (
    CityRecognizer,
    FacilityRecognizer,
    StreetAddressRecognizer,
    TransferPlaceRecognizer,
    ZipRecognizer,
)
from pipeline.core.detection.recognizers.wards import (
    FacilityInitialsRecognizer,
    SaintRecognizer,
    UniversityRecognizer,
    WardRecognizer,
)


def default_recognizers() -> list[Recognizer]:
    """Fresh instances of every built-in recognizer (regexes are compiled once, at class definition)."""
    return [
        SsnRecognizer(),
        PhoneRecognizer(),
        PagerRecognizer(),
        EmailRecognizer(),
        UrlRecognizer(),
        Ipv4Recognizer(),
        Ipv6Recognizer(),
        *labeled.share_cue_scan(
            [
                labeled.mrn_recognizer(),
                labeled.health_plan_recognizer(),
                labeled.account_recognizer(),
                labeled.license_recognizer(),
                labeled.plate_recognizer(),
                labeled.transport_plate_recognizer(),
                labeled.device_recognizer(),
                labeled.biometric_recognizer(),
                labeled.personal_id_recognizer(),
                *labeled.user_name_recognizers(),
                labeled.other_id_recognizer(),
            ]
        ),
        PaymentCardRecognizer(),
        IbanRecognizer(),
        NpiRecognizer(),
        DeaRecognizer(),
        VinRecognizer(),
        GenericIdRecognizer(),
        DateRecognizer(),
        AgeOver89Recognizer(),
        NameRecognizer(),
        LexiconNameRecognizer(),
        FacilityRecognizer(),
        StreetAddressRecognizer(),
        CityRecognizer(),
        ZipRecognizer(),
        TransferPlaceRecognizer(),
        FacilityInitialsRecognizer(),
        WardRecognizer(),
        UniversityRecognizer(),
        SaintRecognizer(),
    ]
