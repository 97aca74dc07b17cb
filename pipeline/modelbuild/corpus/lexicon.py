"""Word lists the generator draws from: PHI values (split into train and held-out halves) and hard negatives.

Every PHI pool is written out here rather than taken from Faker so that a seed gives the same corpus on
every machine and every library version. A pool is cut into two disjoint halves by a stable hash of each
entry (about a quarter is held out), so the held-out split meets names, streets, cities and hospitals the model
never saw in training. Hard-negative lists (drugs, eponyms, common words that are also names) are
shared by both splits: they are what the model must learn to leave alone, not what it must generalize to.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from enum import StrEnum


class Split(StrEnum):
    """Which half of the templates and PHI pools a note draws from."""

    TRAIN = "train"
    HELDOUT = "heldout"


def is_heldout(key: str) -> bool:
    """The one rule that assigns a value or a template id to the held-out quarter.

    It hashes the string itself (CRC-32, stable across runs and platforms), not its position, so a value
    listed in two pools (a surname that is also a common word) lands in the same half in both.
    """
    return zlib.crc32(key.lower().encode("utf-8")) % 4 == 3


def halve(items: tuple[str, ...], split: Split) -> tuple[str, ...]:
    """The distinct entries of ``items`` that belong to ``split`` (disjoint halves, order kept)."""
    return tuple(item for item in dict.fromkeys(items) if is_heldout(item) == (split is Split.HELDOUT))


# -- people -----------------------------------------------------------------------------------------

FIRST_NAMES: tuple[str, ...] = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony", "Margaret", "Donald", "Sandra",
    "Steven", "Ashley", "Paul", "Dorothy", "Andrew", "Kimberly", "Joshua", "Emily", "Kenneth", "Donna",
    "Kevin", "Michelle", "Brian", "Carol", "George", "Amanda", "Edward", "Melissa", "Ronald", "Deborah",
    "Timothy", "Stephanie", "Jason", "Rebecca", "Jeffrey", "Sharon", "Ryan", "Laura", "Jacob", "Cynthia",
    "Gary", "Kathleen", "Nicholas", "Amy", "Eric", "Angela", "Jonathan", "Shirley", "Larry", "Brenda",
    "Justin", "Pamela", "Scott", "Nicole", "Frank", "Ruth", "Raymond", "Katherine", "Gregory", "Virginia",
    "Jose", "Maria", "Luis", "Carmen", "Juan", "Rosa", "Carlos", "Ana", "Miguel", "Lucia", "Alejandro",
    "Sofia", "Diego", "Valentina", "Javier", "Camila", "Wei", "Mei", "Jun", "Li", "Hiroshi", "Yuki",
    "Takeshi", "Sakura", "Min-jun", "Ji-woo", "Seo-yeon", "Hyun", "Priya", "Rahul", "Anjali", "Arjun",
    "Deepa", "Vikram", "Lakshmi", "Sanjay", "Omar", "Fatima", "Ahmed", "Aisha", "Mohammed", "Layla",
    "Yusuf", "Zainab", "Ibrahim", "Amina", "Chinedu", "Ngozi", "Kwame", "Abena", "Oluwaseun", "Folake",
    "Tendai", "Nia", "Dmitri", "Olga", "Sergei", "Natasha", "Ivan", "Katya", "Piotr", "Agnieszka",
    "Tomasz", "Zofia", "Lars", "Ingrid", "Sven", "Astrid", "Matti", "Aino", "Henrik", "Freja",
    "Giovanni", "Giulia", "Marco", "Chiara", "Pierre", "Camille", "Jean", "Elodie", "Hans", "Greta",
    "Klaus", "Heike", "Thanh", "Linh", "Minh", "Huong", "Ravi", "Sunita", "Kofi", "Adwoa", "Eitan",
    "Noa", "Yosef", "Tamar", "Seamus", "Siobhan", "Declan", "Aoife", "Rhys", "Carys", "Bjorn", "Sigrid",
    "Mateo", "Isabella", "Santiago", "Mariana", "Tariq", "Leila", "Hamid", "Soraya", "Kenji", "Aiko",
    "Dario", "Elena", "Nikos", "Eleni", "Joao", "Beatriz", "Rui", "Ines", "Tyrone", "Latoya", "DeShawn",
    "Imani", "Jamal", "Keisha", "Marcus", "Tanisha", "Brandon", "Brittany", "Cody", "Kayla", "Dustin",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
    "Martin", "Thompson", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Adams", "Nelson",
    "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards",
    "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz",
    "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward",
    "Richardson", "Watson", "Brooks", "Chavez", "Wood", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes",
    "Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez",
    "Chen", "Wang", "Zhang", "Liu", "Huang", "Zhao", "Wu", "Zhou", "Tanaka", "Suzuki", "Takahashi",
    "Watanabe", "Yamamoto", "Nakamura", "Kobayashi", "Sato", "Park", "Choi", "Jung", "Kang", "Cho",
    "Yoon", "Sharma", "Gupta", "Singh", "Kumar", "Reddy", "Iyer", "Nair", "Chatterjee", "Banerjee",
    "Desai", "Khan", "Ali", "Hussein", "Rahman", "Haddad", "Nasser", "Abboud", "Mansour", "Okafor",
    "Okonkwo", "Adeyemi", "Mensah", "Owusu", "Boateng", "Mwangi", "Kamau", "Abebe", "Tesfaye",
    "Ivanov", "Petrov", "Smirnov", "Volkov", "Kowalski", "Nowak", "Wisniewski", "Lewandowski",
    "Kaminski", "Novak", "Horvat", "Kovacs", "Nagy", "Szabo", "Popescu", "Ionescu", "Andersson",
    "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsen", "Hansen", "Jensen", "Nielsen",
    "Virtanen", "Korhonen", "Makinen", "Laine", "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi",
    "Romano", "Colombo", "Ricci", "Dubois", "Moreau", "Laurent", "Lefebvre", "Fontaine", "Muller",
    "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Hoffmann", "Schulz", "Wagner", "Zimmermann",
    "O'Brien", "O'Connor", "McCarthy", "Gallagher", "Doherty", "Kennedy", "Lynch", "Murray",
    "MacDonald", "Campbell", "Fraser", "Stewart-Hale", "Van der Berg", "De Jong", "Bakker", "Visser",
    "Papadopoulos", "Georgiou", "Silva", "Santos", "Oliveira", "Pereira", "Costa", "Ferreira",
    "Tran", "Le", "Pham", "Hoang", "Vu", "Dang", "Cohen", "Levi", "Friedman", "Goldberg", "Katz",
    "Washington", "Jefferson", "Coleman", "Jenkins", "Perry", "Powell", "Bryant", "Russell", "Griffin",
    "Hayes", "Myles", "Whitfield", "Okeke", "Achebe", "Lindqvist", "Bergstrom", "Halvorsen", "Sorensen",
)  # fmt: skip

#: Names that are also ordinary English words; they appear as names (positives) and, through
#: :data:`WORD_USES`, as words (hard negatives), so the model must read the context.
WORD_NAMES: tuple[str, ...] = (
    "May", "Day", "English", "Park", "Lee", "April", "June", "Will", "Bill", "Mark", "Grant", "Hope",
    "Faith", "Young", "Brown", "Green", "White", "Black", "Long", "Hall", "Baker", "Stone", "Banks",
    "Rich", "Summer", "Rose", "Pat", "Sue", "Don", "Hunter", "Fisher", "Wood", "Lane", "Chase", "Joy",
    "Dawn", "Bishop", "Little", "Frank", "Norman", "Savage", "Love", "Price", "Gay", "Early", "Moody",
)  # fmt: skip

INITIALS: tuple[str, ...] = tuple("ABCDEFGHJKLMNPRSTW")

RELATIONS: tuple[str, ...] = (
    "husband", "wife", "son", "daughter", "dtr", "mother", "father", "sister", "brother", "niece",
    "nephew", "grandson", "granddaughter", "partner", "fiance", "aunt", "uncle", "friend", "neighbor",
    "caregiver", "guardian", "HCP", "POA", "stepdaughter", "cousin",
)  # fmt: skip

CLINICIAN_SUFFIXES: tuple[str, ...] = ("MD", "DO", "RN", "NP", "PA-C", "LPN", "PharmD", "PT", "CNA", "RD", "LCSW")

# -- places -----------------------------------------------------------------------------------------

CITIES: tuple[str, ...] = (
    "Springfield", "Riverside", "Fairview", "Georgetown", "Salem", "Madison", "Franklin", "Clinton",
    "Arlington", "Ashland", "Burlington", "Manchester", "Milton", "Oxford", "Dover", "Hudson", "Newport",
    "Bristol", "Chester", "Lexington", "Boston", "Worcester", "Lowell", "Cambridge", "Quincy", "Brockton",
    "Somerville", "Framingham", "Chicopee", "Pittsfield", "Providence", "Hartford", "Stamford", "Albany",
    "Syracuse", "Rochester", "Buffalo", "Yonkers", "Newark", "Trenton", "Camden", "Scranton", "Allentown",
    "Baltimore", "Columbia", "Richmond", "Norfolk", "Raleigh", "Durham", "Charlotte", "Savannah", "Macon",
    "Tampa", "Orlando", "Tallahassee", "Birmingham", "Huntsville", "Memphis", "Knoxville", "Louisville",
    "Cincinnati", "Dayton", "Toledo", "Akron", "Detroit", "Lansing", "Flint", "Gary", "Evansville",
    "Peoria", "Rockford", "Joliet", "Milwaukee", "Duluth", "Des Moines", "Omaha", "Wichita", "Tulsa",
    "El Paso", "Lubbock", "Amarillo", "Laredo", "San Antonio", "Corpus Christi", "Albuquerque", "Tucson",
    "Mesa", "Boise", "Spokane", "Tacoma", "Eugene", "Fresno", "Oakland", "Stockton", "Bakersfield",
    "Sacramento", "San Jose", "Santa Rosa", "Reno", "Provo", "Ogden", "Billings", "Fargo", "Sioux Falls",
    "Anchorage", "Honolulu", "Hilo", "Portland", "Bangor", "Burlington", "Concord", "Nashua", "Waterbury",
    "Toronto", "Montreal", "Winnipeg", "Halifax", "Leeds", "Glasgow Green", "Cardiff", "Dublin", "Cork",
    "Lyon", "Marseille", "Toulouse", "Hamburg", "Munich", "Cologne", "Utrecht", "Antwerp", "Porto",
    "Seville", "Valencia", "Bilbao", "Turin", "Bologna", "Naples", "Krakow", "Gdansk", "Brno", "Tampere",
    "Turku", "Uppsala", "Malmo", "Bergen", "Aarhus", "Odense", "Mumbai", "Pune", "Chennai", "Lagos",
    "Accra", "Nairobi", "Kumasi", "Osaka", "Kyoto", "Busan", "Incheon", "Manila", "Cebu", "Hanoi",
    "Da Nang", "Monterrey", "Guadalajara", "Puebla", "Cordoba", "Rosario", "Medellin", "Cali",
)  # fmt: skip

STATES: tuple[str, ...] = (
    "MA", "NY", "CA", "TX", "IL", "OH", "PA", "FL", "GA", "NC", "WA", "OR", "MI", "NJ", "VA", "AZ",
    "Massachusetts", "New York", "Ohio", "Texas", "California", "Maine", "Vermont", "Oregon",
)  # fmt: skip

COUNTRIES: tuple[str, ...] = (
    "Mexico", "Canada", "India", "Nigeria", "Ghana", "Vietnam", "Poland", "Italy", "Ireland", "Brazil",
    "Japan", "Korea", "Philippines", "Haiti", "Portugal", "Germany", "Finland", "Sweden", "Kenya", "Peru",
)  # fmt: skip

COUNTIES: tuple[str, ...] = (
    "Essex County", "Middlesex County", "Cook County", "Orange County", "Kings County", "Suffolk County",
    "Worcester County", "Bristol County", "Hampden County", "Marin County", "Travis County", "Dane County",
    "Plymouth County", "Norfolk County", "Berkshire County", "Franklin County", "Jefferson Parish",
    "Cape Cod", "the North Shore", "Back Bay", "Dorchester", "Jamaica Plain", "East Boston", "Roxbury",
    "the South End", "Mattapan", "Chinatown", "Beacon Hill", "Fenway", "Allston", "Brighton", "Charlestown",
)  # fmt: skip

STREET_NAMES: tuple[str, ...] = (
    "Main", "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Walnut", "Spring",
    "North", "Ridge", "Church", "Willow", "Mill", "Sunset", "Highland", "Railroad", "Jackson", "Cherry",
    "Center", "Franklin", "Lincoln", "Madison", "Chestnut", "Prospect", "Pleasant", "Dogwood", "Forest",
    "Meadow", "Harbor", "Beacon", "Commonwealth", "Tremont", "Boylston", "Huntington", "Massachusetts",
    "Dorchester", "Blue Hill", "Columbus", "Hancock", "Revere Beach", "Quincy Shore", "Brookline",
    "Kingsley", "Ashford", "Whitney", "Fairmount", "Greenwood", "Lakeview", "Riverbend", "Stonegate",
    "Birchwood", "Holloway", "Kensington", "Westminster", "Carrington", "Pemberton", "Thornbury",
    "Rua das Flores", "Calle Mayor", "Via Roma", "Hauptstrasse", "Rue de la Paix", "Avenida Paulista",
    "Koskikatu", "Storgatan", "Kongens Gade", "Ulica Dluga", "Calle de Alcala", "Schillerstrasse",
)  # fmt: skip

#: Towns outside the US, in their own spelling (diacritics kept), for travel and residence sentences and
#: foreign postal addresses: the notes of a hospital serve visitors and immigrants too.
WORLD_CITIES: tuple[str, ...] = (
    "Tartu", "Kuopio", "Jyväskylä", "Vaasa", "Rovaniemi", "Linköping", "Örebro", "Västerås", "Umeå",
    "Kristiansand", "Esbjerg", "Randers", "Kolding", "Vejle", "Łódź", "Lublin", "Białystok", "Szczecin",
    "Katowice", "Szeged", "Debrecen", "Pécs", "Győr", "Celje", "Kranj", "Koper", "Plzeň", "Olomouc", "Ostrava",
    "Liberec", "Graz", "Linz", "Innsbruck", "Klagenfurt", "Lausanne", "Lugano", "Winterthur", "Fribourg",
    "Ghent", "Leuven", "Namur", "Liège", "Eindhoven", "Groningen", "Tilburg", "Coimbra", "Braga", "Faro",
    "Aveiro", "Zaragoza", "Málaga", "Salamanca", "Valladolid", "Oviedo", "Perugia", "Verona", "Trieste",
    "Bergamo", "Lecce", "Bordeaux", "Nantes", "Lille", "Rennes", "Grenoble", "Leipzig", "Dresden", "Freiburg",
    "Würzburg", "Münster", "Curitiba", "Belém", "Campinas", "Manaus", "Mendoza", "Salta", "Neuquén", "Paysandú",
    "Rivera", "Sousse", "Bizerte", "Durban", "Pietermaritzburg", "Polokwane", "Reykjanesbær", "Hafnarfjörður",
    "Ísafjörður", "Dunedin", "Tauranga", "Napier", "Rotorua", "Kelowna", "Saskatoon", "Moncton", "Sherbrooke",
    "Limassol", "Larnaca", "Famagusta", "Daugavpils", "Liepāja", "Kaunas", "Klaipėda", "Šiauliai", "Brașov",
    "Cluj-Napoca", "Timișoara", "Varna", "Plovdiv", "Split", "Rijeka", "Osijek", "Thessaloniki", "Patras",
    "Heraklion", "Izmir", "Antalya", "Bursa", "Kochi", "Mysuru", "Nagpur", "Sapporo", "Sendai", "Fukuoka",
    "Daegu", "Gwangju", "Cần Thơ", "Huế", "Davao", "Iloilo", "Arequipa", "Cusco", "Trujillo", "Cuenca",
    "Quetzaltenango", "León", "Mérida", "Oaxaca", "Tijuana", "Querétaro",
)  # fmt: skip

#: Street names as written abroad, number after the name ('Kauppakatu 14', 'Rua Augusta 200').
WORLD_STREETS: tuple[str, ...] = (
    "Kauppakatu", "Hämeenkatu", "Rautatienkatu", "Drottninggatan", "Kungsgatan", "Vesterbrogade", "Nørregade",
    "Karl Johans gate", "Torggata", "Laugavegur", "Skólavörðustígur", "Pikk", "Rüütli", "Rannamõisa tee",
    "ulica Piotrkowska", "ulica Floriańska", "Váci utca", "Andrássy út", "Slovenska cesta", "Prešernova ulica",
    "Národní třída", "Masarykova", "Mariahilfer Straße", "Bahnhofstrasse", "Kurfürstendamm", "Königsallee",
    "Lindenstraße", "Damstraat", "Kalverstraat", "Veldstraat", "Rue Neuve", "Rue Sainte-Catherine",
    "Boulevard Haussmann", "Rue de la République", "Avenue Jean Jaurès", "Rua Augusta", "Avenida da Liberdade",
    "Rua de Santa Catarina", "Calle Serrano", "Gran Vía", "Calle Larios", "Via del Corso", "Corso Buenos Aires",
    "Via Toledo", "Corso Vittorio Emanuele", "Avenida Atlântica", "Rua XV de Novembro", "Avenida Corrientes",
    "Calle Florida", "Avenida 18 de Julio", "Ermou", "Odos Egnatias", "İstiklal Caddesi", "Ulitsa Vitosha",
    "Strada Lipscani", "Ilica", "Gedimino prospektas", "Brīvības iela",
)  # fmt: skip

STREET_TYPES: tuple[str, ...] = (
    "Street", "St", "St.", "Avenue", "Ave", "Ave.", "Road", "Rd", "Drive", "Dr", "Lane", "Ln", "Court",
    "Ct", "Boulevard", "Blvd", "Place", "Pl", "Terrace", "Way", "Circle", "Parkway", "Pkwy", "Highway",
)  # fmt: skip

UNIT_PREFIXES: tuple[str, ...] = ("Apt", "Apt.", "Unit", "#", "Suite", "Ste", "Floor", "Rm")

HOSPITAL_STEMS: tuple[str, ...] = (
    "St. Mary's", "Mercy", "Good Samaritan", "Sacred Heart", "St. Luke's", "Providence", "Memorial",
    "Baptist", "Methodist", "Presbyterian", "St. Joseph's", "Beth Israel", "Mount Sinai", "Lakeside",
    "Riverside", "Valley", "Northshore", "Bayview", "Hillcrest", "Pinecrest", "Cedar Ridge", "Fairview",
    "Brookhaven", "Greenfield", "Oakwood", "Maplewood", "Westfield", "Eastbrook", "Kingsbridge",
    "Ashworth", "Carney", "Faulkner", "Lahey", "Winchester", "Lawrence", "Emerson", "Holyoke",
    "Tufts", "Baystate", "Sturdy", "Milford", "Harrington", "Heywood", "Signature", "Anna Jaques",
    "Saint Vincent", "Kent", "Hallmark", "Southcoast", "Cooley Dickinson", "Berkshire", "Nashoba",
)  # fmt: skip

HOSPITAL_KINDS: tuple[str, ...] = (
    "Hospital", "Medical Center", "General Hospital", "Regional Medical Center", "Community Hospital",
    "Health Center", "Rehabilitation Hospital", "Nursing Home", "Skilled Nursing Facility", "Clinic",
    "Family Health Center", "Urgent Care", "Cancer Center", "Children's Hospital", "Hospice House",
)  # fmt: skip

WARD_STEMS: tuple[str, ...] = (
    "Bigelow", "Ellison", "Phillips", "Baker", "White", "Blake", "Wang", "Lunder", "Yawkey", "Shapiro",
    "Farr", "Feldberg", "Reisman", "Deaconess", "Clinical Center", "Rabb", "Tower", "Gray", "Jackson",
    "Bulfinch", "Weinberg", "Kirstein", "Stoneman", "Finard", "Carl J. Shapiro", "Brigham Circle",
)  # fmt: skip

# -- identifiers ------------------------------------------------------------------------------------

EMAIL_DOMAINS: tuple[str, ...] = (
    "example.com", "example.org", "mail.example.net", "inbox.example.com", "post.example.org",
    "patientmail.example", "webmail.example.net", "example.co.uk", "example.de", "example.fi",
)  # fmt: skip

URL_HOSTS: tuple[str, ...] = (
    "mychart.example.org", "portal.example-health.org", "www.example.com", "blog.example.net",
    "photos.example.com", "www.example-family.org", "records.example.edu", "telehealth.example.org",
)  # fmt: skip

HEALTH_PLANS: tuple[str, ...] = (
    "BCBS", "Blue Cross", "Aetna", "Cigna", "Humana", "Tufts Health Plan", "Harvard Pilgrim",
    "MassHealth", "Medicaid", "Medicare", "United Healthcare", "Kaiser", "Fallon", "BMC HealthNet",
)  # fmt: skip

# -- hard negatives ---------------------------------------------------------------------------------

DRUGS: tuple[str, ...] = (
    "metoprolol", "lisinopril", "amlodipine", "atorvastatin", "simvastatin", "metformin", "insulin glargine",
    "insulin lispro", "furosemide", "lasix", "hydrochlorothiazide", "spironolactone", "warfarin", "coumadin",
    "apixaban", "eliquis", "rivaroxaban", "heparin", "enoxaparin", "lovenox", "aspirin", "ASA", "clopidogrel",
    "plavix", "levothyroxine", "synthroid", "omeprazole", "pantoprazole", "protonix", "famotidine",
    "ondansetron", "zofran", "acetaminophen", "tylenol", "ibuprofen", "motrin", "oxycodone", "percocet",
    "morphine", "hydromorphone", "dilaudid", "fentanyl", "tramadol", "gabapentin", "neurontin",
    "pregabalin", "sertraline", "zoloft", "fluoxetine", "prozac", "citalopram", "escitalopram",
    "trazodone", "quetiapine", "seroquel", "haloperidol", "haldol", "olanzapine", "lorazepam", "ativan",
    "alprazolam", "xanax", "diazepam", "clonazepam", "zolpidem", "ambien", "prednisone", "methylprednisolone",
    "solu-medrol", "dexamethasone", "albuterol", "ipratropium", "duoneb", "tiotropium", "spiriva",
    "fluticasone", "advair", "montelukast", "vancomycin", "vanco", "cefazolin", "ancef", "ceftriaxone",
    "rocephin", "cefepime", "zosyn", "piperacillin", "meropenem", "ciprofloxacin", "cipro", "levofloxacin",
    "levaquin", "azithromycin", "zithromax", "doxycycline", "bactrim", "nitrofurantoin", "macrobid",
    "metronidazole", "flagyl", "clindamycin", "amoxicillin", "augmentin", "keflex", "fluconazole",
    "acyclovir", "potassium chloride", "KCL", "magnesium sulfate", "calcium gluconate", "sodium bicarbonate",
    "senna", "colace", "docusate", "miralax", "lactulose", "bisacodyl", "tamsulosin", "flomax", "finasteride",
    "donepezil", "aricept", "memantine", "carbidopa-levodopa", "sinemet", "levetiracetam", "keppra",
    "phenytoin", "dilantin", "valproate", "lamotrigine", "digoxin", "amiodarone", "diltiazem", "cardizem",
    "hydralazine", "labetalol", "carvedilol", "coreg", "losartan", "valsartan", "entresto", "nitroglycerin",
    "NTG", "isosorbide", "ranolazine", "allopurinol", "colchicine", "tacrolimus", "mycophenolate",
    "methotrexate", "humira", "epoetin", "filgrastim", "naloxone", "narcan", "thiamine", "folic acid",
    "multivitamin", "vitamin D", "ferrous sulfate", "normal saline", "NS", "LR", "D5W", "propofol",
    "norepinephrine", "levophed", "vasopressin", "phenylephrine", "dobutamine", "precedex", "midazolam",
)  # fmt: skip

DOSE_UNITS: tuple[str, ...] = ("mg", "mcg", "g", "units", "mEq", "mL", "mg/kg", "mcg/min", "units/hr", "puffs", "tab")
ROUTES: tuple[str, ...] = ("PO", "IV", "IM", "SQ", "SC", "SL", "PR", "INH", "NEB", "topical", "via PEG", "per NGT")
FREQUENCIES: tuple[str, ...] = (
    "daily", "BID", "TID", "QID", "QHS", "QAM", "Q4H", "Q6H", "Q8H", "Q12H", "PRN", "Q4H PRN", "once",
    "x1", "STAT", "weekly", "QOD", "AC", "HS", "with meals", "continuous",
)  # fmt: skip

EPONYMS: tuple[str, ...] = (
    "Parkinson's disease", "Parkinson disease", "parkinsonism", "Foley catheter", "Foley", "Glasgow Coma Scale",
    "Babinski sign", "Babinski", "Murphy's sign", "Hodgkin lymphoma", "non-Hodgkin lymphoma", "Crohn's disease",
    "Alzheimer's dementia", "Cushing's syndrome", "Addison's disease", "Bell's palsy", "Graves disease",
    "Hashimoto's thyroiditis", "Kussmaul respirations", "Cheyne-Stokes breathing", "Swan-Ganz catheter",
    "Whipple procedure", "Nissen fundoplication", "Apgar", "Allen test", "Homans sign", "McMurray test",
    "Lachman test", "Romberg", "Trendelenburg", "Kernig sign", "Brudzinski sign", "Tinel sign", "Phalen test",
    "Kaposi sarcoma", "Wilms tumor", "Ewing sarcoma", "Bartholin cyst", "Baker's cyst", "Colles fracture",
    "Down syndrome", "Tourette syndrome", "Guillain-Barre syndrome", "Stevens-Johnson syndrome", "Epley maneuver",
    "Valsalva", "Heimlich", "Jackson-Pratt drain", "JP drain", "Hickman line", "Mallampati", "Ranson criteria",
    "Wells score", "Child-Pugh class B", "Bishop score", "Gleason score 7", "Barrett's esophagus", "Raynaud's",
    "Sjogren's", "Huntington's disease", "Wernicke encephalopathy", "Korsakoff", "Marfan syndrome",
    "Meniere's disease", "Paget's disease", "Tetralogy of Fallot", "Wolff-Parkinson-White", "Brugada pattern",
    "Mobitz type II", "Austin Flint murmur", "Graham Steell murmur", "Kerley B lines", "Chvostek sign",
    "Trousseau sign", "Battle sign", "Cullen sign", "Grey Turner sign", "Virchow node", "Osler nodes",
    "Janeway lesions", "Roth spots", "Bouchard nodes", "Heberden nodes", "Dupuytren contracture",
    "Lyme disease", "Legionella", "Pap smear", "Gram stain", "Ziehl-Neelsen", "Coombs test", "Tzanck smear",
    "Holter monitor", "Doppler", "Braden score", "Morse fall scale", "Richmond Agitation Sedation Scale",
    "Hartmann pouch", "Roux-en-Y", "Billroth II", "Pfannenstiel incision", "Kocher incision", "Denver shunt",
    "Ommaya reservoir", "Greenfield filter", "Sengstaken-Blakemore tube", "Miller blade", "Mac blade",
)  # fmt: skip

#: Phrases where a name from :data:`WORD_NAMES` (or a look-alike) is an ordinary word.
WORD_USES: tuple[str, ...] = (
    "may go home today", "may need PT", "pt may have", "will follow up", "will continue", "will call back",
    "will recheck in AM", "bill insurance", "billing questions", "mark the site", "marked improvement",
    "grant funded study", "hope to discharge", "hopeful for recovery", "POD day 2", "day 3 of abx",
    "hospital day 5", "every other day", "speaks English", "English speaking", "young adult", "appears young",
    "brown sputum", "green drainage", "white count trending down", "black tarry stools", "long term care",
    "long acting insulin", "short of breath", "down the hall", "hallway", "kidney stone", "stone free",
    "rich in potassium", "summer camp physical", "rose to 38.9", "pat dry", "don gloves and gown",
    "hunter's bump", "wood splinter", "lane change", "chase the BP", "joy of eating", "dawn phenomenon",
    "bishop score", "little change", "frank blood", "frankly purulent", "norman", "savage pain",
    "loves gardening", "early satiety", "moody lately", "baker's cyst", "fisher grade 3", "park the wheelchair",
    "lee side", "faith based support", "green light for discharge", "white matter changes", "gray matter",
    "summer months", "in June she plans", "April showers", "may day", "long day", "will power",
    "crystal clear", "amber urine", "ruby red", "ginger ale", "olive oil", "pearl white", "iris reactive",
    "hazel eyes", "sandy stool", "rusty sputum", "dusty rose rash", "violet hue", "grace period",
    "angel food cake", "christian faith", "major depression", "general surgery", "general appearance",
    "rehab", "medicare", "nurse practitioner", "case manager", "social work", "chaplain", "dietitian",
)  # fmt: skip

CLINICAL_WORDS: tuple[str, ...] = (
    "S/P", "PMH", "HPI", "C/O", "R/O", "N/V", "SOB", "CP", "DOE", "PND", "HTN", "HLD", "DM2", "CKD",
    "CAD", "CHF", "COPD", "AFIB", "A-FIB", "DVT", "PE", "UTI", "PNA", "CVA", "TIA", "MI", "NSTEMI",
    "STEMI", "GERD", "BPH", "OSA", "ESRD", "HD", "ARF", "AKI", "SBO", "GIB", "UGIB", "LGIB", "ETOH",
    "NKDA", "NPO", "ADAT", "OOB", "BRP", "WBAT", "NWB", "FWB", "PT/OT", "SLP", "VNA", "SNF", "LTAC",
    "ICU", "MICU", "SICU", "CCU", "NICU", "PACU", "ED", "OR", "IR", "GI", "ID", "ENT", "OB/GYN",
    "D/C", "F/U", "W/U", "H/O", "Y/O", "A&O X3", "AAOX3", "NAD", "RRR", "CTAB", "NTND", "BS+",
    "MAE", "PERRLA", "EOMI", "JVD", "LE EDEMA", "TRACE EDEMA", "DP/PT 2+", "CMS INTACT", "C/D/I",
)  # fmt: skip


@dataclass(frozen=True)
class Lexicon:
    """The PHI pools of one split. Hard negatives are module constants shared by both splits."""

    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    word_names: tuple[str, ...]
    cities: tuple[str, ...]
    counties: tuple[str, ...]
    street_names: tuple[str, ...]
    hospital_stems: tuple[str, ...]
    ward_stems: tuple[str, ...]
    world_cities: tuple[str, ...]
    world_streets: tuple[str, ...]

    @classmethod
    def for_split(cls, split: Split) -> Lexicon:
        return cls(
            first_names=halve(FIRST_NAMES, split),
            last_names=halve(LAST_NAMES, split),
            word_names=halve(WORD_NAMES, split),
            cities=halve(CITIES, split),
            counties=halve(COUNTIES, split),
            street_names=halve(STREET_NAMES, split),
            hospital_stems=halve(HOSPITAL_STEMS, split),
            ward_stems=halve(WARD_STEMS, split),
            world_cities=halve(WORLD_CITIES, split),
            world_streets=halve(WORLD_STREETS, split),
        )
