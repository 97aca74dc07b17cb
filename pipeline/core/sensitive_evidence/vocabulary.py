"""The vocabularies behind the evidence: terms, medication classes and laboratory tests per category.

Each :class:`Term` names one category, how much it proves on its own (:attr:`Strength.STRONG`: the term
documents the patient's own care in the category, so it flags the note whatever the model says, unless
negated or said of a relative; :attr:`Strength.WEAK`: the term is shared with ordinary care, so the
model's score decides), what kind of evidence it is, and its phrases as lower-case token sequences (the
runs of letters and digits of :mod:`pipeline.core.token_match`: ``SI/HI`` is ``si hi``, ``DT's`` is
``dt s``). Sources are named per block: WHO ATC classes for medications (N07B, J05AE/AF/AG/AJ/AR/AX,
N05A, N06A, G03A/G02B), LOINC components for laboratory tests, and the definitions in
``models/sensitive/CRITERIA.md`` for clinical terms. ICD-10-CM codes are in :mod:`.codes`.

Exclusions are phrases that share a word with a term but mean something else (``ST depression``,
``withdrawal of care``, ``hearing aids``, ``IVF`` for intravenous fluids is simply not listed); a term
occurrence inside an exclusion is no evidence. Everything here is a closed vocabulary: a term's ``id``
may appear in logs and explanations, never a note's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pipeline.core.sensitive import SensitiveCategory

SU = SensitiveCategory.SUBSTANCE_USE
MH = SensitiveCategory.MENTAL_HEALTH
PT = SensitiveCategory.PSYCHOTHERAPY_NOTES
HIV = SensitiveCategory.HIV_STI
RH = SensitiveCategory.REPRODUCTIVE
GEN = SensitiveCategory.GENETIC


class Strength(StrEnum):
    STRONG = "strong"
    WEAK = "weak"


class Kind(StrEnum):
    TERM = "term"  # a diagnosis, procedure or care term
    MEDICATION = "medication"
    LAB = "lab"  # a test: its result may matter (see Term.result_negates)
    CODE = "code"  # an ICD-10-CM code (see .codes)


@dataclass(frozen=True, slots=True)
class Term:
    """One vocabulary entry; ``result_negates``: a negative result right after it (``hCG negative``,
    ``PHQ-2 0``) makes it no evidence, as for safety screens (an HIV test counts whatever its result)."""

    id: str
    category: SensitiveCategory
    strength: Strength
    kind: Kind
    phrases: tuple[str, ...]
    result_negates: bool = False


def _t(
    id_: str, category: SensitiveCategory, strength: Strength, kind: Kind, phrases: str, result_negates: bool = False
) -> Term:
    """``phrases`` separated by ``|``, each a space-separated token sequence."""
    return Term(id_, category, strength, kind, tuple(p.strip() for p in phrases.split("|")), result_negates)


S, W = Strength.STRONG, Strength.WEAK
TERM, MED, LAB = Kind.TERM, Kind.MEDICATION, Kind.LAB

TERMS: tuple[Term, ...] = (
    # -- substance use disorder (42 CFR Part 2; tobacco and caffeine excluded by 2.11) -------------------
    _t("su.alcohol_disorder", SU, S, TERM, "alcohol use disorder|alcohol abuse|alcohol dependence|alcohol dependent|"
       "alcoholism|etoh abuse|etoh dependence|etoh use disorder|etoh abuser|alcohol abuser|eth abuse|alcoholic"),
    _t("su.withdrawal", SU, S, TERM, "alcohol withdrawal|etoh withdrawal|etoh w d|alcohol w d|opioid withdrawal|"
       "opiate withdrawal|heroin withdrawal|benzodiazepine withdrawal|benzo withdrawal|withdrawal seizure|"
       "withdrawal seizures|dts|dt s|delirium tremens|ciwa|ciwa protocol|ciwa scale|cows score|cows scale|"
       "last drink|detox|detoxification|r o withdrawal|withdrawal precautions"),
    _t("su.drug_disorder", SU, S, TERM, "substance abuse|substance use disorder|substance dependence|drug abuse|"
       "drug dependence|drug addiction|addiction|polysubstance|polysubstance abuse|opioid use disorder|oud|"
       "opioid dependence|opiate dependence|opioid abuse|opiate abuse|narcotic abuse|narcotics abuse|"
       "heroin|heroine|heroin abuse|heroin use|cocaine abuse|cocaine dependence|cocaine use disorder|"
       "crack cocaine|methamphetamine use|methamphetamine abuse|amphetamine abuse|benzodiazepine abuse|"
       "benzo abuse|cannabis use disorder|marijuana abuse|stimulant use disorder|sedative use disorder|use disorder|"
       "benzodiazepine dependence|benzo dependence|sedative dependence|cannabis dependence|stimulant dependence|"
       "amphetamine dependence|methamphetamine dependence|opioid addiction|alcohol addiction"),
    _t("su.injection", SU, S, TERM, "ivdu|ivda|idu|pwid|injection drug use|injection drug user|"
       "intravenous drug use|intravenous drug abuse|iv drug use|iv drug user|iv drug abuse|ivdu hx|skin popping"),
    _t("su.treatment", SU, S, TERM, "methadone maintenance|methadone clinic|methadone program|opioid treatment program|"
       "otp|aa meetings|alcoholics anonymous|narcotics anonymous|sober house|sobriety|in recovery from|"
       "rehab for alcohol|rehab for etoh|substance abuse treatment|addiction medicine|bridge clinic|"
       "sud treatment|detox program|dual diagnosis|part 2 program|42 cfr part 2|attends aa|attending aa|"
       "aa sponsor|na meetings|12 step|twelve step|sober living|years sober|months sober"),
    # ATC N07BB (drugs used in alcohol dependence), N07BC (drugs used in opioid dependence)
    _t("su.med_oud_aud", SU, S, MED, "buprenorphine|suboxone|subutex|sublocade|zubsolv|bunavail|bup nlx|"
       "buprenorphine naloxone|naltrexone|vivitrol|acamprosate|campral|disulfiram|antabuse|lofexidine|lucemyra"),
    # alcohol-related disease names the model weighs (they hold ``alcoholic``, which alone is strong)
    _t("su.alcohol_disease", SU, W, TERM, "alcoholic cirrhosis|alcoholic hepatitis|alcoholic liver disease|"
       "alcoholic cardiomyopathy|alcoholic pancreatitis|alcoholic ketoacidosis|alcoholic neuropathy"),
    _t("su.weak", SU, W, TERM, "etoh|alcohol|drinker|heavy drinker|heavy drinking|binge drinking|vodka|"
       "whiskey|pint|beers|fifth of|cocaine|marijuana|cannabis|thc|drug use|illicit drugs|illicit drug|"
       "recreational drugs|street drugs|overdose|intoxication|intoxicated|methadone|librium|chlordiazepoxide|"
       "tox screen positive|positive tox screen|uds positive|methamphetamine|amphetamines|cows|sober|meth|"
       "drinks per day|drinks a day|drinks daily|drinks per week|beers per day|beers a day|case of beer|"
       "daily drinking|heavy daily drinking|quit drinking|stop drinking|stopped drinking|cut down on drinking|"
       "stimulant use|benzodiazepine misuse|opioid misuse|misuse"),
    # -- mental health (state mental-health laws); delirium and dementia are excluded ------------------
    _t("mh.psychotic_mood", MH, S, TERM, "schizophrenia|schizophrenic|schizoaffective|schezophrenia|bipolar|"
       "bipolar disorder|manic depression|mania|major depression|major depressive|mdd|depression|dysthymia|"
       "depressive disorder|depressed mood|psychotic disorder|delusional disorder|mood disorder"),
    _t("mh.anxiety_trauma", MH, S, TERM, "anxiety disorder|generalized anxiety|generalized anxiety disorder|"
       "panic disorder|ptsd|post traumatic stress|posttraumatic stress|ocd|obsessive compulsive|"
       "social anxiety|agoraphobia|phobia|adjustment disorder"),
    _t("mh.other_disorders", MH, S, TERM, "adhd|attention deficit|anorexia nervosa|bulimia|eating disorder|"
       "binge eating|personality disorder|borderline personality|antisocial personality|"
       "mental illness|psychiatric illness|psychiatric disorder|psychiatric history|psych history|psych hx|"
       "psychiatric hx|psychiatric admission|psychiatric hospitalization|psychiatric hold|inpatient psychiatry|"
       "inpatient psychiatric|section 12|pink paper|psychiatrist|outpatient psychiatry|behavioral health|"
       "referred to psychiatry|referral to psychiatry|psychiatry referral|followed by psychiatry|"
       "follows with psychiatry|sees psychiatry|psychiatric unit|psych unit|psychiatric ward|psychiatric facility|"
       "psychiatric hospital|"
       "mental health clinic|therapist for depression"),
    _t("mh.suicide_selfharm", MH, S, TERM, "suicidal|suicidal ideation|suicide|suicide attempt|suicide attempts|"
       "si hi|active si|passive si|positive si|self harm|self injurious|self inflicted|intentional overdose|"
       "cutting herself|cutting himself"),
    # ATC N06AB (SSRIs), N06AX (other antidepressants), N05AN (lithium), N05AH02/N05AE05/N05AX13 (clozapine,
    # lurasidone, paliperidone): rarely given for anything but a psychiatric disorder.
    _t("mh.med_psychiatric", MH, S, MED, "sertraline|zoloft|fluoxetine|prozac|paroxetine|paxil|citalopram|celexa|"
       "escitalopram|lexapro|fluvoxamine|luvox|venlafaxine|effexor|desvenlafaxine|pristiq|vortioxetine|"
       "trintellix|vilazodone|viibryd|lithium|lithobid|clozapine|clozaril|lurasidone|latuda|paliperidone|invega|"
       "brexpiprazole|rexulti|cariprazine|vraylar|lamotrigine for bipolar|antidepressant|antidepressants|"
       "anti depressants|anti depressant"),
    # ATC N05A antipsychotics, N06AX (bupropion, mirtazapine, trazodone), N06AA tricyclics, N05BE buspirone:
    # also given for delirium, sleep, appetite, pain or smoking, so the model decides.
    _t("mh.med_shared", MH, W, MED, "quetiapine|seroquel|olanzapine|zyprexa|risperidone|risperdal|respiridol|"
       "respiradol|risperdol|respiridone|rispiradone|aripiprazole|abilify|ziprasidone|geodon|bupropion|wellbutrin|mirtazapine|"
       "remeron|trazodone|trazadone|desyrel|amitriptyline|elavil|nortriptyline|pamelor|doxepin|imipramine|"
       "buspirone|buspar|duloxetine|cymbalta|psychotropic|psychotropics|antipsychotic|antipsychotics|"
       "anti anxiety|anxiolytic"),
    _t("mh.symptom", MH, W, TERM, "anxiety|panic attack|panic attacks|depressed|psychosis|psychotic|"
       "hallucinations|paranoid|paranoia|tearful|hopeless|hopelessness|internal stimuli|auditory hallucinations|"
       "command hallucinations|flight of ideas|pressured speech|anhedonia|worthlessness|manic"),
    _t("mh.care", MH, W, TERM, "psych|psychiatric|psychiatry|psych consult|psychiatry consult|mental health|"
       "psych eval|psychiatric evaluation|psych nurse|psychologist|psychology"),
    _t("mh.screen", MH, W, LAB, "phq 9|phq9|phq 2|phq2|gad 7|gad7|epds|edinburgh postnatal|columbia suicide|"
       "c ssrs|beck depression", result_negates=True),
    # -- psychotherapy notes (45 CFR 164.501): the contents of a counselling session -------------------
    _t("pt.session", PT, S, TERM, "psychotherapy session|therapy session|counseling session|counselling session|"
       "in session|this session|today s session|last session|next session|session today|previous session|"
       "countertransference|transference|therapeutic alliance|process notes|psychodynamic|"
       "client stated|client reported|client described|client expressed|client discussed|client shared|"
       "client explored|client reports|client states|client appeared|we explored|explored with client|"
       "processed with client|therapist s impression|therapist impression|process note|session content|"
       "couples session|family session|group session"),
    _t("pt.modality", PT, W, TERM, "psychotherapy|psychotherapist|psychotherapeutic|cbt|dbt|emdr|"
       "cognitive behavioral therapy|dialectical behavior therapy|talk therapy|therapist|"
       "individual therapy|family therapy|couples therapy|group therapy"),
    _t("pt.client", PT, W, TERM, "client|clients|client s"),
    _t("pt.session", PT, W, TERM, "session|sessions"),
    # -- HIV and other sexually transmitted infections (state HIV/STI laws) ----------------------------
    _t("hiv.status", HIV, S, TERM, "hiv|hiv aids|aids defining|aids dementia|hiv infection|hiv positive|"
       "hiv disease|human immunodeficiency virus|cd4|cd4 count|hiv viral load|hiv vl|haart|antiretroviral|"
       "antiretrovirals|antiretroviral therapy|arv therapy|pre exposure prophylaxis|post exposure prophylaxis|"
       "hiv prep|hiv pep|hiv test|hiv testing|hiv screen|hiv ab|hiv antibody|hiv 1|hiv1"),
    # ATC J05AE, J05AF, J05AG, J05AJ, J05AR, J05AX: antiretrovirals (not those shared with hepatitis B or COVID-19)
    _t("hiv.med_art", HIV, S, MED, "emtricitabine|truvada|descovy|biktarvy|genvoya|stribild|triumeq|dovato|juluca|"
       "odefsey|complera|atripla|symtuza|prezcobix|evotaz|efavirenz|sustiva|rilpivirine|edurant|etravirine|"
       "intelence|nevirapine|viramune|doravirine|pifeltro|delstrigo|dolutegravir|tivicay|raltegravir|isentress|"
       "elvitegravir|bictegravir|cabotegravir|apretude|cabenuva|vocabria|darunavir|prezista|atazanavir|reyataz|"
       "lopinavir|kaletra|zidovudine|azt|retrovir|combivir|trizivir|abacavir|ziagen|epzicom|maraviroc|selzentry|"
       "fostemsavir|rukobia|lenacapavir|sunlenca|ibalizumab|trogarzo|fosamprenavir|lexiva|tipranavir|aptivus|"
       "nelfinavir|viracept|didanosine|stavudine"),
    _t("hiv.med_shared", HIV, W, MED, "tenofovir|viread|lamivudine|epivir|3tc|ritonavir|norvir|cobicistat"),
    _t("hiv.sti", HIV, S, TERM, "syphilis|syphilitic|neurosyphilis|chlamydia|chlamydial|gonorrhea|gonorrhoea|"
       "gonococcal|trichomonas|trichomoniasis|genital herpes|herpes genitalis|genital hsv|hsv 2|hsv2|"
       "mycoplasma genitalium|condyloma|condylomata|genital warts|anogenital warts|chancroid|"
       "lymphogranuloma venereum|std|stds|sti|stis|sexually transmitted|venereal|partner notification|"
       "expedited partner therapy|pelvic inflammatory disease"),
    # LOINC components: RPR, VDRL, treponemal antibody, C. trachomatis / N. gonorrhoeae NAAT, T. vaginalis
    _t("hiv.sti_lab", HIV, S, LAB, "rpr|vdrl|fta abs|treponemal|treponema|tp pa|gc ct|gc chlamydia|ct gc|"
       "gc naat|ct naat|chlamydia naat|gonorrhea naat|gc probe|trich naat"),
    _t("hiv.weak", HIV, W, TERM, "hsv|herpes|aids|trich|naat|bicillin|penicillin g benzathine|"
       "immunocompromised from hiv|gc|on prep"),
    # -- reproductive health care (45 CFR 160.103, 2024 rule) ------------------------------------------
    _t("rh.pregnancy", RH, S, TERM, "pregnant|currently pregnant|weeks pregnant|wks pregnant|weeks gestation|"
       "wks gestation|gestational age|gestation|gestational|iup|intrauterine pregnancy|ectopic pregnancy|"
       "prenatal|antenatal|postpartum|post partum|intrapartum|peripartum|"
       "preeclampsia|pre eclampsia|eclampsia|hellp|placenta previa|placental abruption|in labor|active labor|"
       "induction of labor|labor and delivery|cesarean section|c section|csection|vaginal delivery|nsvd|svd|"
       "fetal heart|fetal heart tones|fetal movement|fetus|edd|edc|positive pregnancy test|pregnancy test positive|"
       "positive home pregnancy test|home pregnancy test positive|months pregnant|expecting a baby|baby is due|"
       "hcg positive|positive hcg|upt positive|positive upt|pregnancy positive|obstetric|obstetrics|"
       "obstetrical|breastfeeding|lactating|post partum hemorrhage|srom|pprom|fht|fhts|prenatal vitamins|"
       "hyperemesis gravidarum|missed ab|missed abortion"),
    _t("rh.loss_abortion", RH, S, TERM, "miscarriage|miscarriages|spontaneous abortion|missed abortion|abortion|"
       "abortions|elective abortion|termination of pregnancy|pregnancy loss|stillbirth|mifepristone|"
       "medication abortion|products of conception"),
    _t("rh.contraception", RH, S, TERM, "contraception|contraceptive|contraceptives|birth control|"
       "emergency contraception|tubal ligation|bilateral tubal ligation|btl|vasectomy|essure|"
       "iud|intrauterine device|copper iud|mirena|paragard|kyleena|skyla|liletta|nexplanon|implanon|"
       "depo provera|nuvaring|ortho evra|xulane|ocp|ocps|oral contraceptive|oral contraceptives"),
    _t("rh.fertility", RH, S, TERM, "infertility|fertility treatment|fertility clinic|in vitro fertilization|"
       "in vitro fertilisation|embryo transfer|egg retrieval|oocyte retrieval|egg freezing|iui|"
       "intrauterine insemination|clomiphene|clomid|reproductive endocrinology|assisted reproduction"),
    _t("rh.weak", RH, W, TERM, "pregnancy|gravida|ob gyn|obgyn|lmp|misoprostol|hyperemesis|sab|pnv|nst|fhr|labor|"
       "depo|medroxyprogesterone|levonorgestrel|norethindrone|estradiol ethinyl|ethinyl estradiol"),
    _t("rh.screen", RH, W, LAB, "pregnancy test|hcg|beta hcg|urine hcg|serum hcg|upt|urine pregnancy",
       result_negates=True),
    # -- genetic information (GINA; 45 CFR 160.103): tests, counselling, requests -----------------------
    _t("gen.test", GEN, S, LAB, "genetic testing|genetic test|genetic tests|genetic screening|genetic panel|"
       "germline|germline testing|brca|brca1|brca2|brca testing|karyotype|karyotyping|chromosomal microarray|"
       "microarray|nipt|cell free dna|cfdna|carrier screening|carrier screen|expanded carrier|exome|"
       "whole exome|exome sequencing|genome sequencing|whole genome|pharmacogenomic|pharmacogenomics|"
       "pharmacogenetic|pharmacogenetics|factor v leiden|hfe mutation|hfe gene|cftr mutation|"
       "predictive testing|presymptomatic testing|gene panel|hereditary cancer panel|lynch syndrome testing|"
       "tp53 germline|apoe genotype|cyp2c19 genotype|hla b 5701|hla b5701|premutation|pathogenic variant|"
       "gene testing|gene test|gene tests|genetic analysis|dna testing for|homozygous c282y|"
       "likely pathogenic|chromosomal microarray analysis|pgt m|pgt a|preimplantation genetic"),
    _t("gen.counselling", GEN, S, TERM, "genetic counseling|genetic counselling|genetic counselor|"
       "genetic counsellor|genetics consult|genetics referral|genetics clinic|medical genetics|geneticist"),
    _t("gen.weak", GEN, W, TERM, "genetic|genetics|genotype|genotyping|mutation|gene mutation|carrier|mthfr|"
       "huntington|trisomy|chromosomal|lynch syndrome|variant of uncertain significance|vus|mlh1|msh2|msh6|pms2|"
       "cma|fmr1|chek2|palb2|smn1|cftr|familial variant|cag repeat|c282y|h63d|hemochromatosis gene"),
)  # fmt: skip

#: Phrases that contain a term's words but mean something else: a term inside one is no evidence.
EXCLUSIONS: dict[SensitiveCategory, tuple[str, ...]] = {
    SU: (
        "withdrawal of care", "withdrawal of support", "social etoh", "social drinker", "social alcohol",
        "occasional etoh", "occasional alcohol", "rare etoh", "alcohol swab", "alcohol pad", "alcohol prep",
        "alcohol wipe", "alcohol based", "alcohol gel", "cleaned w alcohol", "cleaning w alcohol",
        "cleaned with alcohol", "cleaning with alcohol", "alcohol and dressing", "rubbing alcohol",
        "pint of blood", "detox bath", "methadone for pain", "cows milk", "nicotine addiction", "tobacco addiction",
        "nicotine dependence", "tobacco dependence", "tobacco abuse", "tobacco use disorder", "nicotine use disorder",
        "caffeine use disorder", "in recovery room", "misuse of", "device misuse", "non alcoholic",
        "alcoholic beverage", "alcoholic beverages", "alcoholic drink", "alcoholic drinks",
    ),
    MH: (
        "st depression", "st depressions", "st segment depression", "pr depression", "respiratory depression",
        "resp depression", "cns depression", "myocardial depression", "marrow depression", "depressed ef",
        "depressed lv", "depressed lvef", "depressed ejection", "depressed function", "depressed systolic",
        "depressed mental status", "depressed ms", "depressed level", "depressed skull", "depressed fracture",
        "depressed cardiac", "depressed rv", "depressed biventricular", "severely depressed ef",
        "icu psychosis", "steroid psychosis", "bipolar lead", "bipolar leads", "bipolar pacing", "bipolar pacer",
        "bipolar cautery", "bipolar electrocautery", "bipolar sealer", "bipolar forceps", "suicide bag",
        "lithium battery", "lithium level for", "hospital psychiatry consult for delirium", "mania of",
    ),
    PT: ("physical therapist", "occupational therapist", "respiratory therapist", "speech therapist", "iv therapist",
         "therapist pt", "therapist ot", "physical therapy session", "pt session", "ot session", "rt session",
         "dialysis session", "hd session", "in session with dialysis", "teaching session", "education session",
         "training session", "exercise session", "client education", "client teaching"),
    HIV: (
        "hearing aids", "hearing aid", "walking aids", "visual aids", "mobility aids", "feeding aids", "aids in",
        "aids with", "memory aids", "herpes zoster", "zoster", "herpes labialis", "oral herpes", "hsv 1", "hsv1",
        "hsv pcr csf", "hep c viral load", "hcv viral load", "hbv viral load", "cmv viral load", "ebv viral load",
        "bk viral load", "std deviation",
    ),
    RH: (
        "delivery of care", "delivery system", "oxygen delivery", "o2 delivery", "drug delivery", "delivered to",
        "delivered via", "delivered by", "delivered at", "delivered with", "delivered over", "meal delivery",
        "svd pattern", "depo medrol", "ivf", "labored", "labor intensive", "cannabinoid hyperemesis",
        "labored breathing", "labor of breathing",
    ),
    GEN: (
        "mrsa carrier", "carrier state", "hepatitis b carrier", "hep b carrier", "hbv carrier", "carrier of mrsa",
        "carrier of vre", "hcv genotype", "hepatitis c genotype", "hep c genotype", "genotype 1", "genotype 2",
        "genotype 3", "genotype 1a", "genotype 1b", "egfr mutation", "kras mutation", "braf mutation",
        "tumor mutation", "somatic mutation", "jak2 mutation", "flt3 mutation",
    ),
}  # fmt: skip
