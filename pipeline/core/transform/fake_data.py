"""Built-in surrogate values: plainly fictional names, cities, streets and facilities.

Kept small and in code so surrogates need no download and stay stable across releases (changing a list
changes every surrogate, which breaks consistency across reprocessing: append, never reorder).
"""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "Avery", "Blake", "Casey", "Dana", "Elliot", "Finley", "Gale", "Harper", "Indy", "Jordan", "Kendall",
    "Logan", "Morgan", "Noel", "Oakley", "Parker", "Quinn", "Reese", "Sawyer", "Taylor", "Umber", "Val",
    "Wren", "Xen", "Yael", "Zion", "Ari", "Bellamy", "Corin", "Darcy", "Emery", "Frankie", "Greer",
    "Hollis", "Iris", "Jules", "Kit", "Lane", "Marlo", "Nico", "Orion", "Peyton", "Remy", "Sage", "Tatum",
    "Vesper", "Winter", "Rowan", "Skyler", "Arden",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Ashdown", "Brackwell", "Coldmere", "Dunhallow", "Elderby", "Fennick", "Glenmore", "Harrowgate",
    "Ivesdale", "Jessamine", "Kestrel", "Larkspur", "Marchbank", "Northcote", "Oakhurst", "Pennington",
    "Quillfeather", "Rookwood", "Silverton", "Thistlewood", "Underhill", "Vantmoor", "Whitlock",
    "Yarborough", "Zellweger", "Amberly", "Birchall", "Copperfield", "Driftwood", "Emberton", "Foxhollow",
    "Greystone", "Hawthorne", "Inglewood", "Juniperus", "Kingsley", "Lowther", "Merriweather", "Nettleton",
    "Orchardson", "Pemberton", "Redfern", "Stonebridge", "Tillman", "Upton", "Wexley", "Ashgrove",
    "Brightwater", "Cresswell", "Dovecote",
)  # fmt: skip

CITIES: tuple[str, ...] = (
    "Ashford Falls", "Briar Glen", "Cedar Hollow", "Dunmore Ridge", "Elm Crossing", "Fairhaven Bluff",
    "Glenwick", "Harbor Vale", "Ironwood", "Juniper Flats", "Kingsbridge", "Lakemont", "Millbrook",
    "Northvale", "Oakridge Springs", "Pine Hollow", "Quarry Bend", "Riverton Mills", "Stoneford",
    "Timber Point", "Upland Grove", "Valemont", "Willow Creek", "Yellowmere", "Amberfield", "Bellhaven",
    "Copper Ridge", "Deerfield Run", "Eastwick Hollow", "Foxborough Glen",
)  # fmt: skip

STREETS: tuple[str, ...] = (
    "Maple Avenue", "Birch Lane", "Cedar Court", "Dogwood Drive", "Elm Way", "Fern Road", "Garnet Street",
    "Hazel Terrace", "Ivy Place", "Juniper Trail", "Kestrel Circle", "Linden Boulevard", "Magnolia Road",
    "Nutmeg Lane", "Orchard Street", "Poplar Avenue", "Quail Run", "Rosewood Drive", "Sycamore Court",
    "Tamarack Way", "Upland Road", "Violet Lane", "Willow Street", "Yarrow Place", "Aspen Ridge Road",
    "Bluebell Avenue", "Chestnut Street", "Driftwood Lane", "Evergreen Terrace", "Foxglove Way",
)  # fmt: skip

FACILITIES: tuple[str, ...] = (
    "Ashford Falls General Hospital", "Briar Glen Medical Center", "Cedar Hollow Clinic",
    "Dunmore Ridge Community Hospital", "Elm Crossing Health Center", "Glenwick Regional Medical Center",
    "Harbor Vale Family Practice", "Ironwood Rehabilitation Center", "Lakemont Memorial Hospital",
    "Millbrook Urgent Care", "Northvale Cancer Center", "Oakridge Springs Hospice", "Pine Hollow Clinic",
    "Riverton Mills Infirmary", "Stoneford Medical Group", "Timber Point Surgery Center",
)  # fmt: skip

EMAIL_DOMAINS: tuple[str, ...] = ("example.org", "example.com", "example.net")
