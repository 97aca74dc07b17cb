"""Note styles and their sentence templates.

A template is plain text with slots: ``{UPPER}`` slots are PHI makers (:data:`values.PHI_MAKERS`),
``{lower}`` slots are hard-negative makers (:data:`negatives.NEG_MAKERS`). A note is one header, several
body sentences and sometimes a footer, all from one style. Within every section of every style, each
fourth template (by position) belongs to the held-out family, so the held-out split is written in
sentence shapes the model was never trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Case(StrEnum):
    """How a style's notes are cased: as written, all capitals (nursing), or sometimes either."""

    AS_WRITTEN = "as_written"
    UPPER = "upper"
    MIXED = "mixed"


@dataclass(frozen=True)
class Style:
    """One kind of clinical document and the templates it is written from."""

    name: str
    case: Case
    headers: tuple[str, ...]
    body: tuple[str, ...]
    footers: tuple[str, ...] = ()
    typos: bool = False
    sentences: tuple[int, int] = (3, 7)
    joiner: str = " "


def template_heldout(index: int) -> bool:
    """Each fourth template of a section (by position) is held out of training."""
    return index % 4 == 3


NURSING = Style(
    name="nursing",
    case=Case.UPPER,
    headers=(
        "NSG NOTE {DATETIME}:",
        "RN NOTE {DATE} {TIME}. PT {PERSON}, MRN {MRN}.",
        "NURSING PROGRESS NOTE - {WARD} - {PDATE} {TIME}",
        "{TIME} PT {LAST} RESTING IN BED.",
        "SHIFT NOTE 7P-7A {PDATE}.",
        "NSG ADMIT NOTE: {YAGE} ADMITTED FROM {HOSP} ON {PDATE}.",
        "0700-1900 NSG: {AGE} ADMITTED {DATE} W/ {abbr}.",
        "PT: {TPERSON} BED {room}.",
    ),
    body=(
        "VS: {vitals}.",
        "NEURO: A&O X3, {score}, MAE. NO {epo}.",
        "RESP: LS CLEAR, {vitals}. C/O SOB WITH EXERTION.",
        "GI/GU: {epo} IN PLACE DRAINING CLEAR YELLOW URINE. LAST BM {PDATE}.",
        "HUSBAND {FIRST} AT BEDSIDE, UPDATED BY RN. CAN BE REACHED AT {PHONE}.",
        "DTR {FIRST} CALLED AT {TIME}, UPDATED ON PLAN OF CARE.",
        "{REL} VISITED THIS AM, WILL RETURN ON {PDATE}.",
        "SEEN BY {DR}. {med} GIVEN AT {TIME}.",
        "MEDS: {meds}.",
        "LABS {PDATE}: {labs}.",
        "PAIN {score}, {med} GIVEN WITH RELIEF.",
        "{word}. {abbr}.",
        "SKIN INTACT, BRADEN {score}. TURNED Q2H.",
        "PT {word} PER {DR}.",
        "S/P FALL AT HOME ON {PDATE}, {abbr}.",
        "PMH: {abbr}, {epo}. NKDA.",
        "CALLED {DR} AT PAGER {PAGER} RE {labs}.",
        "PLAN: D/C TO {HOSP} ON {PDATE} IF STABLE. {word}.",
        "ID BAND CHECKED: {PERSON}, DOB {DATE}, MRN {MRN}.",
        "{REL} IS HCP, CELL {PHONE}.",
        "PT ASKING FOR {REL}. {word}.",
        "{qty} OUTPUT OVER SHIFT. {score}.",
        "WOUND CARE PER {DR} ORDERS, DSG C/D/I.",
        "TRANSFERRED FROM {WARD} AT {TIME} VIA STRETCHER.",
        "PT {word} AND {word}.",
        "RECEIVED REPORT FROM {DR} AT {TIME}. {room}.",
        "PT STATES {REL} LIVES IN {CITY} AND WILL PICK HER UP ON {DAYWORD}.",
        "IN {YEAR} HAD {epo}, S/P REPAIR.",
    ),
    footers=("-- {DR}", "{DR} {TIME}", "SIGNED {DR} {PDATE}", "END OF SHIFT. {DR}"),
    sentences=(4, 9),
)

ICU = Style(
    name="icu",
    case=Case.UPPER,
    headers=(
        "MICU PROGRESS NOTE {DATE}. HD #{score}.",
        "ICU ATTENDING NOTE {DATETIME}, {WARD}.",
        "SICU NOTE: {PERSON} ({AGENUM} M) MRN {MRN}.",
        "CCU EVENT NOTE {PDATE} AT {TIME}.",
        "NEURO ICU NOTE - {YAGE} - {DATE}.",
    ),
    body=(
        "VENT: AC {score}, {score}, {score}.",
        "HEME: {labs}. TRANSFUSED 1U PRBC ON {PDATE}.",
        "ID: {med}, CX FROM {PDATE} PENDING.",
        "CV: {vitals} ON {med}.",
        "NEURO: {score}, {epo} NEGATIVE, PUPILS 3MM.",
        "LINES: R IJ CVC PLACED {PDATE} BY {DR}, A-LINE, {epo}.",
        "FAMILY MEETING WITH {REL} AND {REL} ON {PDATE} AT {TIME}.",
        "D/W {DR} (PAGER {PAGER}), AGREES WITH PLAN.",
        "CODE STATUS: FULL CODE CONFIRMED WITH {REL}.",
        "RENAL: {labs}, UOP {qty}. {word}.",
        "GI: NPO, TF AT {qty}, {med}.",
        "ENDO: {med}, FSBG {labs}.",
        "{word}. {abbr}. {score}.",
        "CONSULTS: {DR} (RENAL), {DR} (ID).",
        "PT TRANSFERRED FROM {HOSP} ON {DATE} FOR HIGHER LEVEL OF CARE.",
        "OVERNIGHT: {abbr}, {med} X1 AT {TIME}.",
        "DISPO: REMAINS IN {room}. {word}.",
        "{REL} CALLED FROM {CITY}, {PHONE}.",
        "HOME {ADDRESS} PER CHART. {word}.",
        "SEDATION: {med}, {score}.",
    ),
    footers=("{DR}, ICU ATTENDING", "CRITICAL CARE TIME 45 MIN. {DR}", "-{DR}/{DR}"),
    sentences=(4, 9),
)

DISCHARGE = Style(
    name="discharge",
    case=Case.AS_WRITTEN,
    headers=(
        "DISCHARGE SUMMARY\nPatient: {PERSON}\nMRN: {MRN}\nAdmission date: {DATE}\nDischarge date: {DATE}\n",
        "Discharge Summary - {HOSP}\nName: {PERSON}  DOB: {DATE}  Acct: {ACCT}\n",
        "{HOSP}\nDISCHARGE SUMMARY\nAttending: {DR}\nDate of service: {DATE}\n",
        "Patient {TPERSON} was admitted to {HOSP} on {DATE} and discharged on {DATE}.",
        "DATE OF ADMISSION: {DATE}\nDATE OF DISCHARGE: {DATE}\nPCP: {DR}\n",
        "Discharge summary for {PERSON} (MRN {MRN}), {AGENUM}-year-old, admitted {PDATE}.",
        "DISCHARGE SUMMARY\nPt: {PERSON}    Unit: {WARD}    Adm: {DATE}\n",
        "Summary of hospitalization at {HOSP}, {DATE} to {PDATE}.",
    ),
    body=(
        "HPI: {YAGE} with PMH of {abbr} and {epo} who presented on {DATE} with chest pain.",
        "The patient is a {YAGE} woman with {epo} admitted for {abbr}.",
        "{TPERSON} is a {AGENUM}-year-old man with a history of {epo}, brought in by his {REL}.",
        "Hospital course: started on {med}; {word}.",
        "Labs on admission: {labs}.",
        "Vitals at discharge: {vitals}.",
        "Discharge medications: {meds}.",
        "She was seen by {DR} of cardiology on {PDATE}, who recommended {med}.",
        "Echo on {DATE} showed {score} and no {epo}.",
        "Follow-up with {DR} at {HOSP} on {DATE} at {TIME}; phone {PHONE}.",
        "Follow up with PCP {DR} in {qty}. {word}.",
        "Disposition: discharged to {HOSP} with {REL}.",
        "Discharged home to {ADDRESS} with VNA services.",
        "Code status was discussed with the patient and {REL} ({PHONE}).",
        "Social history: lives with {REL} in {CITY}; former smoker, {qty}.",
        "He was followed by {DR} for {epo} since {YEAR}.",
        "Exam: {abbr}; {score}; {epo} negative.",
        "Pending results: blood cultures from {PDATE}; {DR} will follow.",
        "Patient {word}. {word}.",
        "Insurance: {PLAN} member ID {PLAN}.",
        "Health care proxy: {REL}, phone {PHONE}, email {EMAIL}.",
        "Her {epo} was managed with {med}.",
        "Imaging from {HOSP} dated {DATE} was reviewed.",
        "Pacemaker ({DEV}) interrogated on {PDATE}: normal function.",
        "Condition at discharge: stable; {score}; ambulating with walker.",
        "Seen in the ED of {HOSP} in {CITY} on {DATE} for {abbr}.",
        "Diet: cardiac, {word}. Activity: as tolerated.",
        "Discussed with {DR} (pager {PAGER}) prior to discharge.",
        "Transport by ambulance to {ADDRESS}.",
        "Records faxed to {FAX} on {PDATE}.",
        "{word}; {labs}.",
        "Now {AGENUM} years old, {TPERSON} returns home to {ADDRESS}; {REL} will visit from {CITY}.",
    ),
    footers=(
        "Dictated by {DR} on {DATE}. Transcribed {DATETIME}.",
        "Electronically signed: {DR}, {DATETIME}",
        "cc: {DR}, {HOSP}, fax {FAX}",
        "{DR}\nNPI {LIC}",
    ),
    sentences=(4, 10),
)

RADIOLOGY = Style(
    name="radiology",
    case=Case.MIXED,
    headers=(
        "EXAM: CT chest with contrast\nDATE: {DATE}\nPATIENT: {PERSON}  MRN: {MRN}\n",
        "CXR PA/LAT {DATETIME}. Accession {ID}.",
        "MRI BRAIN W/WO CONTRAST - {HOSP} - {DATE}",
        "US ABDOMEN {PDATE}. Ordering: {DR}.",
        "CT HEAD WITHOUT CONTRAST, {DATETIME}, {WARD}.",
        "Radiology report for {PERSON}, DOB {DATE}.",
    ),
    body=(
        "CLINICAL HISTORY: {YAGE} with {abbr}, r/o {epo}.",
        "COMPARISON: {DATE} from {HOSP}.",
        "COMPARISON: None.",
        "TECHNIQUE: Axial images obtained with {qty} of contrast.",
        "FINDINGS: {qty} nodule in the right upper lobe, previously {qty}.",
        "There is a {qty} hypodensity; no {epo}.",
        "No acute intracranial hemorrhage. {word}.",
        "Lines and tubes: {epo} tip at the cavoatrial junction.",
        "Degenerative changes at {score}, unchanged since {PDATE}.",
        "IMPRESSION: 1. No acute process. 2. {qty} cyst, likely benign.",
        "Findings discussed with {DR} by telephone at {TIME} on {PDATE}.",
        "Critical result called to {DR} ({PHONE}) at {TIME}.",
        "Prior study performed at {HOSP} in {YEAR}.",
        "Heart size normal. Kerley B lines absent. {word}.",
        "Recommend follow-up CT in {qty}.",
        "Images reviewed by {DR} and {DR}.",
        "Pacemaker generator ({DEV}) in the left chest wall.",
        "The patient is a {AGENUM}-year-old with fall on {PDATE}.",
    ),
    footers=("Dictated by: {DR} {DATETIME}", "Signed: {DR}, MD on {DATE}", "Read by {DR}. Workstation {IP}."),
    sentences=(3, 7),
    joiner="\n",
)

PATHOLOGY = Style(
    name="pathology",
    case=Case.MIXED,
    headers=(
        "SURGICAL PATHOLOGY REPORT\nAccession: {ID}\nPatient: {PERSON}\nCollected: {DATE}\n",
        "Pathology - {HOSP} - Specimen received {DATETIME}",
        "CYTOLOGY REPORT {PDATE}. Submitting physician: {DR}.",
        "PATHOLOGY CONSULTATION for {TPERSON}, MRN {MRN}, received {DATE}.",
    ),
    body=(
        "SPECIMEN: A. Right breast, core biopsy. B. Sentinel node.",
        "GROSS: Received in formalin labeled with the patient's name, {qty} in aggregate.",
        "MICROSCOPIC: Sections show {epo}; {score}.",
        "DIAGNOSIS: Invasive ductal carcinoma, {epo}, margins negative.",
        "Immunostains: ER positive ({qty}), PR negative, HER2 {score}.",
        "Outside slides from {HOSP} ({ID}) reviewed on {PDATE}.",
        "Case discussed with {DR} on {DATE}.",
        "Frozen section called to {DR} in OR {room} at {TIME}.",
        "Gross description dictated by {DR}, PA.",
        "{word}. {qty}.",
        "Prior biopsy in {YEAR} showed {epo}.",
        "Clinical history: {YAGE} with {abbr}.",
    ),
    footers=("Pathologist: {DR}, {DATE}", "Electronically signed out by {DR} {DATETIME}"),
    sentences=(3, 6),
    joiner="\n",
)

REFERRAL = Style(
    name="referral",
    case=Case.AS_WRITTEN,
    headers=(
        "{HOSP}\n{ADDRESS}\nTel {PHONE}  Fax {FAX}\n\n{DATE}\n\nDear {DR},\n",
        "Dear {DR},\n",
        "Re: {PERSON}, DOB {DATE}, MRN {MRN}\n\nDear Colleague,\n",
        "To: {DR}, {HOSP}\nFrom: {DR}\nDate: {DATE}\nRe: {TPERSON}\n",
        "{DATE}\n\n{DR}\n{HOSP}\n{ADDRESS}\n\nDear Doctor,\n",
    ),
    body=(
        "Thank you for seeing {TPERSON}, a pleasant {AGENUM}-year-old with {epo}.",
        "I am referring {PERSON} for evaluation of {abbr}.",
        "She lives with her {REL} at {ADDRESS}.",
        "Her current medications include {meds}.",
        "He was last seen in our clinic on {DATE}, when {word}.",
        "Recent labs ({PDATE}): {labs}.",
        "I would appreciate your opinion on whether {med} is appropriate.",
        "Her {REL} can be contacted at {PHONE} or {EMAIL}.",
        "He is insured through {PLAN} (member {PLAN}).",
        "Please send your report to my office by fax at {FAX}.",
        "Previous records are available from {HOSP}, {CITY}.",
        "The patient prefers appointments after {TIME}; {word}.",
        "She was diagnosed with {epo} in {YEAR} at {HOSP}.",
        "Examination on {PDATE} showed {vitals} and {score}.",
        "He works as a bus driver in {CITY} and {word}.",
        "I have enclosed imaging from {DATE}.",
        "Please do not hesitate to contact me at {PHONE}.",
        "Her portal account is {URL}.",
        "He has an interpreter need; he speaks Portuguese and limited English.",
        "She moved from {COUNTY} to {CITY} last year.",
    ),
    footers=(
        "Yours sincerely,\n{DR}\n{HOSP}",
        "Kind regards,\n\n{DR}\nLicense {LIC}",
        "Sincerely,\n{DR}, MD\nDirect line {PHONE}",
        "Best,\n{DR}",
    ),
    sentences=(3, 7),
)

MEDLIST = Style(
    name="medlist",
    case=Case.MIXED,
    headers=(
        "MEDICATION RECONCILIATION - {PERSON} - {DATE}\n",
        "Active medications as of {DATE} for MRN {MRN}:\n",
        "MED LIST reviewed by {DR} on {PDATE}\n",
        "Outpatient pharmacy fill history, {HOSP}, printed {DATETIME}\n",
    ),
    body=(
        "- {med}",
        "- {med} (started {PDATE} by {DR})",
        "- {med}; last filled {DATE}",
        "* {med}",
        "- {med} -- held since {PDATE}",
        "{med}",
        "- {med} (prescriber {DR}, DEA {LIC})",
        "- {med}, patient reports {word}",
        "Allergies: {med} (rash), {epo}.",
        "Pharmacy: {HOSP} Pharmacy, {STREET}, {CITY}, phone {PHONE}.",
        "- {med} per {DR}",
        "- {med} x {qty}",
    ),
    footers=("Reconciled by {DR} {DATETIME}", "Reviewed with {REL} at bedside."),
    sentences=(3, 8),
    joiner="\n",
)

TELEPHONE = Style(
    name="telephone",
    case=Case.MIXED,
    headers=(
        "TELEPHONE ENCOUNTER {DATETIME}",
        "Phone call from {REL} on {DATE} at {TIME}.",
        "Telephone note - {PERSON} ({MRN}) - {PDATE}",
        "Call received {TIME} from patient {PERSON}, callback {PHONE}.",
        "Triage call {PDATE} {TIME}. Caller: {REL}.",
    ),
    body=(
        "Caller states {word} since {PDATE}.",
        "Patient reports {abbr} x {qty}, taking {med}.",
        "Advised to go to {HOSP} ED if worse.",
        "Spoke with {REL}, who confirmed DOB {DATE}.",
        "Callback number {PHONE}; okay to leave message.",
        "Message left on voicemail at {TIME}.",
        "Verified identity with name, DOB {DATE} and address {ADDRESS}.",
        "Refill of {med} sent to pharmacy at {STREET}.",
        "Discussed with {DR}, who recommends {med}.",
        "Appointment booked with {DR} on {DATE} at {TIME}.",
        "Patient asked that results be sent to {EMAIL}.",
        "Reports BP at home {vitals}.",
        "{REL} will drive her; plate {VEH} for the parking pass.",
        "Patient {word}; {word}.",
        "Interpreter used, ID {ID}.",
        "Call back on {DAYWORD} to review labs ({labs}).",
        "Caller confirmed the last four of SSN and zip code {ZIP}.",
        "Patient is {AGENUM} and hard of hearing; {word}.",
        "Fax sent to {HOSP} at {FAX}.",
        "Spoke with {REL} ({AGENUM} years old), SSN {SSN} on file, home zip {ZIP}, car {VEH}.",
    ),
    footers=("{DR} {DATETIME}", "Documented by {DR}", "Total call time 8 min. {DR}"),
    sentences=(3, 7),
)

PORTAL = Style(
    name="portal",
    case=Case.AS_WRITTEN,
    headers=(
        "Hi {DR},",
        "Hello Dr. {LAST},",
        "Message from {PERSON} sent {DATETIME}:",
        "dear doctor",
        "Good morning,",
        "To the nurse of {DR}:",
    ),
    body=(
        "this is {PERSON}, my birthday is {DATE}.",
        "I have been having {abbr} since {PDATE} and its not getting better.",
        "my {REL} said I should write to you.",
        "can I take {med} with my other pills?",
        "I ran out of {med} on {PDATE}, can you send a refill to the pharmacy on {STREET}?",
        "my new phone number is {PHONE}, please update it.",
        "I moved to {ADDRESS}, please change my address.",
        "my email changed to {EMAIL}.",
        "I saw {DR} at {HOSP} on {DATE} and they told me {word}.",
        "my sugars have been {labs} this week.",
        "is it ok if my {REL} comes with me on {DAYWORD}?",
        "I will be out of town in {CITY} until {PDATE}.",
        "I uploaded the picture of the rash, file {PHOTO}.",
        "my insurance card number is {PLAN}.",
        "the appointment on {DATE} at {TIME} doesnt work, can we move it?",
        "thank you so much, {word}.",
        "my blood pressure this morning was {vitals}.",
        "I am {AGENUM} years old and live alone since my {REL} passed in {YEAR}.",
        "please call me at {PHONE} after {TIME}.",
        "my username is {USER} and I cant log in to {URL}.",
        "my pharmacy is {HOSP} pharmacy in {CITY}.",
        "I think the {med} is making me dizzy.",
    ),
    footers=("Thanks, {FIRST}", "- {PERSON}", "Sent from my phone", "{FIRST} {LAST}", "regards {PERSON}"),
    typos=True,
    sentences=(2, 6),
)

ADMIN = Style(
    name="admin",
    case=Case.AS_WRITTEN,
    headers=(
        "REGISTRATION UPDATE {DATETIME}",
        "Billing note for account {ACCT}, {DATE}.",
        "Social work assessment - {PERSON} - {DATE}",
        "Case management note {PDATE}.",
        "Release of information request received {DATE}.",
    ),
    body=(
        "Patient {PERSON} requests that the address on file be changed to {ADDRESS}.",
        "Guarantor is {REL}; billing questions to {PHONE}.",
        "SSN on file {SSN} verified with driver's license {LIC}.",
        "Account {ACCT} has a balance; payment plan set up on {DATE}.",
        "Records requested by {PERSON} to be mailed to {ADDRESS}.",
        "Patient was born in {CITY} and moved to {COUNTY} in {YEAR}.",
        "She works at a bakery in {CITY}; {word}.",
        "He reports his {REL} lives nearby on {STREET}.",
        "Medicaid number {PLAN}, effective {DATE}.",
        "Emergency contact: {REL}, {PHONE}.",
        "Employer: {HOSP}; employee badge {ID}.",
        "Passport number {ID} copied for the chart.",
        "Photo ID scanned as {PHOTO}.",
        "Fingerprint enrollment {BIO} completed for the pharmacy kiosk.",
        "Vehicle for transport: {VEH}, driven by {REL}.",
        "Patient portal login from {IP} flagged; user {USER}.",
        "Home health agency: {HOSP}, fax {FAX}.",
        "Social history: {word}; drinks {qty}.",
        "Patient was told {word} and {word}.",
        "Transportation arranged from {CITY} to {HOSP} on {DATE} at {TIME}.",
        "Device registry: insulin pump serial {DEV}.",
        "Voiceprint enrolled for phone banking, ref {BIO}.",
        "Interpreter requested for the visit; {word}.",
        "Guarantor SSN {SSN}; car plate {VEH} registered for valet; mail to {ADDRESS}.",
        "Copy of photo ID kept as {PHOTO}.",
        "Biometric badge {BIO} issued to {PERSON}.",
        "Fax the records to {FAX}, attention {PERSON}.",
        "Portrait photo {PHOTO} and palm scan {BIO} filed for the {AGENUM}-year-old; fax copy to {FAX}.",
    ),
    footers=("{DR}, case manager", "Completed by {PERSON}, registration", "{DR}, LICSW {PHONE}"),
    sentences=(3, 7),
)

STYLES: tuple[Style, ...] = (NURSING, ICU, DISCHARGE, RADIOLOGY, PATHOLOGY, REFERRAL, MEDLIST, TELEPHONE, PORTAL, ADMIN)
