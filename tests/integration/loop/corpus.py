"""A small self-made corpus where internal code names are the domain's jargon.

Each document describes one internal system without naming its code name; users ask
with the code name. A general-purpose embedder cannot know the mapping, so feedback that
confirms the right document is what a retriever can learn from, and held-out questions
with the same code names measure whether it did.
"""

from __future__ import annotations

SYSTEMS = [
    (
        "KESTREL",
        "payroll",
        "The payroll service pays salaried employees on the last Friday of each month and"
        " computes tax withholding from the country tables.",
    ),
    (
        "MARLIN",
        "badge access",
        "The badge access system opens office doors, records entries in the security log "
        "and disables lost cards within five minutes.",
    ),
    (
        "OSPREY",
        "expense reports",
        "Employees file expense reports with scanned receipts; managers approve them and "
        "finance reimburses within ten working days.",
    ),
    (
        "HERON",
        "laptop provisioning",
        "New laptops are imaged with the standard operating system, enrolled in device "
        "management and shipped to the employee's home.",
    ),
    (
        "PUFFIN",
        "vacation requests",
        "Vacation requests are submitted in the calendar tool, approved by the team lead "
        "and deducted from the yearly leave balance.",
    ),
    (
        "CONDOR",
        "customer billing",
        "Customer invoices are generated on the first day of the month from metered usage"
        " and sent as PDF files by email.",
    ),
    (
        "TOUCAN",
        "log search",
        "Application logs from every server are shipped to a central cluster where "
        "engineers search them with a query language.",
    ),
    (
        "BITTERN",
        "code review",
        "Every change to the main branch needs two approving reviews and a green "
        "continuous integration run before it is merged.",
    ),
    (
        "PLOVER",
        "meeting rooms",
        "Meeting rooms are booked through the workplace app; rooms unused ten minutes "
        "after the start are released automatically.",
    ),
    (
        "GANNET",
        "database backups",
        "Production databases are snapshotted every night, copied to another region and "
        "kept for thirty five days.",
    ),
    (
        "LAPWING",
        "incident paging",
        "When an alert fires the on-call engineer is paged by phone and must acknowledge "
        "it within fifteen minutes.",
    ),
    (
        "AVOCET",
        "travel booking",
        "Business flights and hotels are booked through the travel portal, which enforces"
        " the fare class policy for each trip length.",
    ),
    (
        "DUNLIN",
        "password resets",
        "Forgotten passwords are reset through the self-service portal after confirming a"
        " code sent to the registered phone.",
    ),
    (
        "SHRIKE",
        "purchase orders",
        "Purchases above one thousand dollars need a purchase order approved by the "
        "budget owner before the supplier is paid.",
    ),
    (
        "WAGTAIL",
        "onboarding checklist",
        "New hires follow a checklist covering accounts, mandatory trainings, a buddy "
        "assignment and a first week schedule.",
    ),
    (
        "NUTHATCH",
        "feature flags",
        "Product features are switched on gradually with flags that target a percentage "
        "of users and can be turned off instantly.",
    ),
    (
        "STARLING",
        "performance reviews",
        "Performance reviews happen twice a year with self assessment, peer feedback and "
        "a calibration meeting of managers.",
    ),
    (
        "WREN",
        "parking permits",
        "Employees apply for a parking permit once a year; electric vehicles get reserved"
        " spaces with chargers.",
    ),
    (
        "SISKIN",
        "data retention",
        "Personal data is deleted after the retention period defined for each record type"
        " unless a legal hold applies.",
    ),
    (
        "GOLDCREST",
        "VPN access",
        "Remote staff connect through the virtual private network with a client "
        "certificate and a second authentication factor.",
    ),
]

QUESTIONS = [
    "What is {code}?",
    "Explain how {code} works.",
    "Who uses {code} and why?",
    "Tell me about {code}.",
    "Where can I read about {code}?",
    "Give me an overview of {code}.",
]


def documents() -> list[tuple[str, str]]:
    """``(source id, text)`` of every system description."""
    return [
        (f"systems/{code.lower()}.md", f"{topic.capitalize()}. {text}")
        for code, topic, text in SYSTEMS
    ]
