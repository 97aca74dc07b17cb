"""Coded values of the sensitive categories, one table per code system, each with its source.

Only codes whose meaning is certain are listed: a wrong code here would flag or pass records silently.
Each group is one kind of evidence (a diagnosis, a test, a medicine) and is strong (a code documents the
patient's own care in its category: CRITERIA.md's "counts" column), except where a group says it needs
a positive result. What a table leaves out on purpose is named beside it (the "does not count" column:
tobacco, hepatitis, pain medicines, a relative's history, manifested hereditary disease).

ICD-10-CM ranges are :data:`pipeline.core.sensitive_evidence.codes.RANGES` (shared with free text). The
others:

- ICD-9-CM (CMS/NCHS ICD-9-CM tabular list, FY2014, the last edition): the same categories' chapters;
- SNOMED CT (International Edition concept ids, each checked against its fully specified name as used in
  public FHIR examples and value sets): the main disorders and findings;
- LOINC (Regenstrief LOINC, names as in the VSAC "HIV" and eCR/RCTC value sets and the HL7 Genomics
  Reporting IG): HIV antibody/antigen/RNA tests and CD4 counts, syphilis reagin tests, chlamydia and
  gonorrhoea NAATs, genetic analysis reports, and qualitative urine hCG (only with a positive result);
- RxNorm (NLM RxNorm ingredient RXCUIs, TTY IN/PIN): medicines for opioid and alcohol use disorder,
  antiretrovirals not shared with hepatitis B or COVID-19, psychiatric medicines not shared with other
  care; a product code (SCD/SBD) is not listed: its ``display`` text reaches the text evidence instead;
- WHO ATC (WHOCC ATC/DDD Index): classes whose own definition is the category (N07BB, N07BC, J05AG,
  J05AJ, J05AR, N06AB, G03A, G02B, G03GB, G03XB01 and single substances);
- HL7 v3 ActCode: the sensitivity labels a source system sets on a FHIR resource (``meta.security``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.sensitive import SensitiveCategory
from pipeline.core.sensitive_evidence.code_systems import CodeSystem
from pipeline.core.sensitive_evidence.vocabulary import GEN, HIV, MH, PT, RH, SU


@dataclass(frozen=True, slots=True)
class CodeGroup:
    """Codes of one system that are one kind of evidence for one category.

    ``prefixes``: a code starting with one of them belongs (ATC classes); ``needs_positive``: the code
    counts only with a positive result in the same observation (a pregnancy test); ``germline_only``: a
    result reported as somatic (a tumour's variants) is no genetic information of the patient.
    """

    id: str
    system: CodeSystem
    category: SensitiveCategory
    codes: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    needs_positive: bool = False
    germline_only: bool = False

    def holds(self, code: str) -> bool:
        return code in self.codes or any(code.startswith(p) for p in self.prefixes)


def _g(
    id_: str,
    system: CodeSystem,
    category: SensitiveCategory,
    codes: str = "",
    prefixes: str = "",
    *,
    needs_positive: bool = False,
    germline_only: bool = False,
) -> CodeGroup:
    """Codes and prefixes as space-separated lists (upper case: codes are compared upper-cased)."""
    return CodeGroup(
        id_,
        system,
        category,
        frozenset(codes.upper().split()),
        tuple(prefixes.upper().split()),
        needs_positive,
        germline_only,
    )


#: ICD-9-CM diagnoses (CMS/NCHS tabular list FY2014), as (first, last, category) ranges compared by prefix on
#: the code without its dot, like ICD-10-CM's. 305.1 (tobacco use disorder) is left out; so are 290, 293-294
#: and 310 (dementias and organic mental disorders), 299 and 315-319 (developmental and intellectual),
#: V17-V19 (family history) and V30-V39 (liveborn infants, the newborn's own record).
ICD9_RANGES: tuple[tuple[str, str, SensitiveCategory], ...] = (
    ("291", "292", SU), ("303", "304", SU), ("3050", "3050", SU), ("3052", "3059", SU),
    ("295", "298", MH), ("300", "302", MH), ("3071", "3071", MH), ("3075", "3075", MH), ("308", "309", MH),
    ("311", "314", MH), ("V6284", "V6284", MH), ("E950", "E959", MH),
    ("042", "042", HIV), ("V08", "V08", HIV), ("07953", "07953", HIV), ("79571", "79571", HIV),
    ("090", "099", HIV), ("131", "131", HIV), ("0541", "0541", HIV), ("07811", "07811", HIV),
    ("V6544", "V6544", HIV), ("V745", "V745", HIV),
    ("630", "679", RH), ("V22", "V28", RH), ("606", "606", RH), ("628", "628", RH),
    ("V83", "V84", GEN), ("V263", "V263", GEN), ("V8271", "V8279", GEN),
)  # fmt: skip

GROUPS: tuple[CodeGroup, ...] = (
    # -- SNOMED CT (International Edition) ------------------------------------------------------------
    # 7200002 Alcoholism, 66590003 Alcohol dependence, 15167005 Alcohol abuse, 5602001 Opioid abuse,
    # 75544000 Opioid dependence, 191816009 Drug dependence, 26416006 Drug abuse. Not: 56294008 Nicotine
    # dependence (42 CFR 2.11 leaves tobacco out).
    _g("snomed.substance_use_disorder", CodeSystem.SNOMED, SU,
       "7200002 66590003 15167005 5602001 75544000 191816009 26416006"),
    # 35489007 Depressive disorder, 370143000 Major depressive disorder, 13746004 Bipolar disorder,
    # 58214004 Schizophrenia, 69322001 Psychotic disorder, 197480006 Anxiety disorder, 21897009 Generalized
    # anxiety disorder, 371631005 Panic disorder, 47505003 Posttraumatic stress disorder, 191736004
    # Obsessive-compulsive disorder, 406506008 Attention deficit hyperactivity disorder, 56882008 Anorexia
    # nervosa, 6471006 Suicidal thoughts, 82313006 Suicide attempt. Not: 52448006 Dementia, 2776000 Delirium.
    _g("snomed.psychiatric_disorder", CodeSystem.SNOMED, MH,
       "35489007 370143000 13746004 58214004 69322001 197480006 21897009 371631005 47505003 191736004 "
       "406506008 56882008 6471006 82313006"),
    # 86406008 Human immunodeficiency virus infection, 165816005 HIV detected (HIV positive), 62479008
    # Acquired immune deficiency syndrome, 76272004 Syphilis, 15628003 Gonorrhea, 105629000 Chlamydial
    # infection, 8098009 Sexually transmitted infectious disease.
    _g("snomed.hiv_sti", CodeSystem.SNOMED, HIV, "86406008 165816005 62479008 76272004 15628003 105629000 8098009"),
    # 77386006 Pregnancy (patient currently pregnant), 72892002 Normal pregnancy, 34801009 Ectopic pregnancy,
    # 398254007 Pre-eclampsia, 17369002 Miscarriage. Not: 60001007 Not pregnant.
    _g("snomed.pregnancy", CodeSystem.SNOMED, RH, "77386006 72892002 34801009 398254007 17369002"),
    # -- LOINC --------------------------------------------------------------------------------------------
    # HIV tests, whatever their result (state HIV testing laws protect the test): antibody and antigen
    # (VSAC "HIV" value set: 7917-8, 7918-6, 7919-4 HIV 1 / 1+2 / 2 Ab in Serum; 5221-7, 5225-8 by
    # immunoblot; 5222-5 HIV 1 Ag; 5223-3, 5224-1 Ab units; 9821-0 HIV 1 p24 Ag; 43009-0 HIV 1+2 IgG Ab;
    # 48345-3 HIV 1+O+2 Ab; 49580-4, 49905-3, 68961-2, 80387-4 rapid immunoassays; 56888-1, 58900-2 HIV 1+2
    # Ab + HIV 1 p24 Ag; 75622-1 HIV 1 and 2 tests set; 83101-6, 85037-0, 89365-1 panels) and RNA (25836-8,
    # 20447-9 HIV 1 RNA [#/volume], viral load).
    _g("loinc.hiv_test", CodeSystem.LOINC, HIV,
       "7917-8 7918-6 7919-4 5221-7 5225-8 5222-5 5223-3 5224-1 9821-0 43009-0 48345-3 49580-4 49905-3 68961-2 "
       "80387-4 56888-1 58900-2 75622-1 83101-6 85037-0 89365-1 25836-8 20447-9"),
    # 24467-3 CD3+CD4+ (T4 helper) cells [#/volume] in Blood (CRITERIA counts CD4 as HIV care)
    _g("loinc.cd4", CodeSystem.LOINC, HIV, "24467-3"),
    # 20507-0 Reagin Ab [Presence] in Serum by RPR, 31147-2 Reagin Ab [Titer] in Serum by RPR, 5292-8 Reagin Ab
    # [Presence] in Serum by VDRL; 21613-5 / 43304-5 Chlamydia trachomatis DNA / rRNA [Presence] by NAA,
    # 24111-7 / 43305-2 Neisseria gonorrhoeae DNA / rRNA [Presence] by NAA, 36902-5 C. trachomatis + N.
    # gonorrhoeae DNA [Presence] by NAA. Not: hepatitis B/C serologies (13955-0, 16128-1, 5196-1: listed apart).
    _g("loinc.sti_test", CodeSystem.LOINC, HIV, "20507-0 31147-2 5292-8 21613-5 43304-5 24111-7 43305-2 36902-5"),
    # 51969-4 Genetic analysis report, 69548-6 Genetic variant assessment, 81247-9 Master HL7 genetic variant
    # reporting panel (HL7 Genomics Reporting IG); a result whose genomic source class (48002-0) is somatic
    # (LA6684-0) is a tumour's, not the patient's genetic information. 29770-5, 33773-3, 33774-1 Karyotype
    # [Identifier] in Blood or Tissue, Amniotic fluid, Chorionic villus sample. Not 33893-9 (bone marrow
    # karyotype: a leukaemia's cytogenetics).
    _g("loinc.genetic_test", CodeSystem.LOINC, GEN, "51969-4 69548-6 81247-9 29770-5 33773-3 33774-1",
       germline_only=True),
    # 2106-3 Choriogonadotropin (pregnancy test) [Presence] in Urine: only a positive result (a negative
    # safety screen before imaging or surgery does not count, CRITERIA.md).
    _g("loinc.pregnancy_test", CodeSystem.LOINC, RH, "2106-3", needs_positive=True),
    # -- RxNorm ingredients -------------------------------------------------------------------------------
    # 1819 buprenorphine, 7243 naltrexone, 3554 disulfiram. Not: 6813 methadone (also an analgesic: the text
    # decides, as "methadone maintenance" or "OTP"), 7242 naloxone (on every opioid order set).
    _g("rxnorm.oud_aud_medication", CodeSystem.RXNORM, SU, "1819 7243 3554"),
    # 11413 zidovudine, 190521 abacavir, 276237 emtricitabine, 195085 efavirenz, 53654 nevirapine, 1102270
    # rilpivirine, 195088 lopinavir, 343047 atazanavir, 460132 darunavir, 719872 raltegravir, 1433868
    # dolutegravir. Not: 68244 lamivudine and tenofovir (hepatitis B),
    # 85762 ritonavir (nirmatrelvir/ritonavir for COVID-19).
    _g("rxnorm.antiretroviral", CodeSystem.RXNORM, HIV,
       "11413 190521 276237 195085 53654 1102270 195088 343047 460132 719872 1433868"),
    # 36437 sertraline, 4493 fluoxetine, 32937 paroxetine, 2556 citalopram, 321988 escitalopram, 39786
    # venlafaxine, 2626 clozapine, 42351 lithium carbonate, 1040028 lurasidone, 679314 paliperidone. Not:
    # 51272 quetiapine, 61381 olanzapine, 35636 risperidone, 5093 haloperidol (delirium and sleep in ICUs).
    _g("rxnorm.psychiatric_medication", CodeSystem.RXNORM, MH,
       "36437 4493 32937 2556 321988 39786 2626 42351 1040028 679314"),
    # -- WHO ATC ------------------------------------------------------------------------------------------
    # N07BB drugs used in alcohol dependence, N07BC drugs used in opioid dependence (N07BC02 is methadone
    # for opioid dependence; analgesic methadone is N02AC52).
    _g("atc.oud_aud_medication", CodeSystem.ATC, SU, prefixes="N07BB N07BC"),
    # J05AG non-nucleoside reverse transcriptase inhibitors, J05AJ integrase inhibitors, J05AR antivirals
    # for treatment of HIV infections, combinations; J05AF01 zidovudine, J05AF06 abacavir, J05AF09
    # emtricitabine, J05AE08 atazanavir, J05AE10 darunavir. Not: J05AF05 lamivudine, J05AF07 tenofovir.
    _g("atc.antiretroviral", CodeSystem.ATC, HIV, "J05AF01 J05AF06 J05AF09 J05AE08 J05AE10",
       prefixes="J05AG J05AJ J05AR"),
    # N06AB selective serotonin reuptake inhibitors, N05AN01 lithium, N05AH02 clozapine, N05AE05 lurasidone,
    # N05AX13 paliperidone. Not: other N05A antipsychotics, N06AX, N06AA (shared with other care).
    _g("atc.psychiatric_medication", CodeSystem.ATC, MH, "N05AN01 N05AH02 N05AE05 N05AX13", prefixes="N06AB"),
    # G03A hormonal contraceptives for systemic use, G02B contraceptives for topical use (IUDs, rings),
    # G03GB ovulation stimulants (clomifene), G03XB01 mifepristone.
    _g("atc.reproductive_medication", CodeSystem.ATC, RH, "G03XB01", prefixes="G03A G02B G03GB"),
    # -- HL7 v3 ActCode sensitivity labels (FHIR meta.security; terminology.hl7.org v3-ActCode): the source
    # system's own label. ETH substance abuse and 42CFRPart2, PSY psychiatry disorder, PSYTHPN psychotherapy
    # note (also mental health), HIV and STD, SEX sexuality and reproductive health, GDIS genetic disease.
    _g("v3.label_substance_use", CodeSystem.V3_ACTCODE, SU, "ETH 42CFRPart2"),
    _g("v3.label_mental_health", CodeSystem.V3_ACTCODE, MH, "PSY PSYTHPN"),
    _g("v3.label_psychotherapy", CodeSystem.V3_ACTCODE, PT, "PSYTHPN"),
    _g("v3.label_hiv_sti", CodeSystem.V3_ACTCODE, HIV, "HIV STD"),
    _g("v3.label_reproductive", CodeSystem.V3_ACTCODE, RH, "SEX"),
    _g("v3.label_genetic", CodeSystem.V3_ACTCODE, GEN, "GDIS"),
)  # fmt: skip


def groups_for(system: CodeSystem) -> tuple[CodeGroup, ...]:
    return _BY_SYSTEM.get(system, ())


_BY_SYSTEM: dict[CodeSystem, tuple[CodeGroup, ...]] = {
    system: tuple(g for g in GROUPS if g.system is system) for system in CodeSystem
}
