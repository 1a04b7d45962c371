"""Templated news series for the near-duplicate evaluation: daily reports written from one template with new facts.

Market wraps, weather forecasts, match reports, earnings reports, traffic bulletins and court lists
are written the same way every day; each day's report keeps the template's wording and changes the
figures, days and names. None of them is a duplicate of another day's.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
COMPANIES = ("Barrow Mining", "Kestrel Foods", "Northgate Energy", "Vellum Media", "Ashford Pharma",
             "Corvid Telecom", "Halden Steel", "Marlow Retail", "Quayside Bank", "Tamsin Airlines",
             "Orrin Software", "Peverell Insurance")
TEAMS = ("Carrow United", "Westford City", "Harbourton Rovers", "Millbrook Town", "Ashby Athletic",
         "Norwood Wanderers", "Kelby Albion", "Stanmere Rangers")
PEOPLE = ("James Holloway", "Priya Nair", "Tom Reeve", "Sofia Marsh", "Daniel Okoro", "Hannah Kell",
          "Marcus Webb", "Leah Dunmore", "Owen Pritchard", "Grace Fenwick", "Ali Rahman", "Ruth Calder")
TOWNS = ("Carrow", "Westford", "Harbourton", "Millbrook", "Ashby", "Norwood", "Kelby", "Stanmere", "Fulbeck")
ROADS = ("M6", "A14", "M25", "A1", "M62", "A303")
INCIDENTS = ("a lorry shed its load", "a three-car collision", "a broken-down coach", "emergency roadworks",
             "a vehicle fire", "a burst water main")
OFFENCES = ("speeding", "driving without insurance", "shoplifting", "criminal damage", "failing to pay a TV licence",
            "being drunk and disorderly")
SKIES = ("sunny spells", "heavy showers", "persistent rain", "low cloud and drizzle", "clear skies", "thundery downpours")
SERIES_PER_TEMPLATE = 4
DAYS_PER_SERIES = 4


def _pct(rng: random.Random) -> str:
    return f"{rng.uniform(0.1, 4.9):.1f}"


def market_wrap(rng: random.Random, day: str) -> tuple[str, str]:
    """A stock market close report."""
    up = rng.random() < 0.5
    a, b, c = rng.sample(COMPANIES, 3)
    move, level = _pct(rng), f"{rng.randint(7100, 8400):,}.{rng.randint(10, 99)}"
    title = f"FTSE 100 {'rises' if up else 'falls'} {move}% as {a} {'rallies' if up else 'slides'}"
    body = (f"The FTSE 100 index {'rose' if up else 'fell'} {move}% to close at {level} on {day}, as shares in {a} "
            f"{'jumped' if up else 'dropped'} {_pct(rng)}% after the company updated investors on its trading.\n\n"
            f"Elsewhere on the index, {b} {'gained' if rng.random() < 0.5 else 'lost'} {_pct(rng)}% and {c} ended the "
            f"session {_pct(rng)}% {'higher' if rng.random() < 0.5 else 'lower'}, while the more domestically focused "
            f"FTSE 250 moved {_pct(rng)}% to {rng.randint(18000, 21000):,}.\n\n"
            f"The pound traded at ${rng.uniform(1.18, 1.34):.4f} against the dollar and at {rng.uniform(1.12, 1.19):.4f} "
            f"euros. Brent crude was at ${rng.uniform(62, 91):.2f} a barrel.\n\n"
            f"\"Investors are watching the central bank closely this week,\" said {rng.choice(PEOPLE)}, a market "
            f"analyst at {rng.choice(COMPANIES)}. \"Any hint on interest rates will move the market.\"\n\n"
            "The FTSE 100 is made up of the hundred largest companies listed on the London Stock Exchange by market "
            "value. Figures are provisional closing prices.")
    return title, body


def weather_forecast(rng: random.Random, day: str) -> tuple[str, str]:
    """A regional weather forecast."""
    t1, t2, low = rng.randint(9, 27), rng.randint(9, 27), rng.randint(-2, 12)
    a, b, c = rng.sample(TOWNS, 3)
    sky1, sky2 = rng.sample(SKIES, 2)
    title = f"Weather for {day}: {sky1} and highs of {max(t1, t2)}C"
    body = (f"{day} will start with {sky1} across the region, with the best of any brightness around {a} before "
            f"{sky2} spread in from the west during the afternoon.\n\n"
            f"Temperatures will reach a high of {t1}C in {b} and {t2}C in {c}, with a light {rng.choice(('north', 'south', 'east', 'west'))}"
            f"erly wind of {rng.randint(5, 30)} mph.\n\n"
            f"Overnight, temperatures will fall to around {low}C, with a {rng.randint(10, 90)}% chance of rain by dawn.\n\n"
            f"Sunrise is at {rng.randint(5, 7)}:{rng.randint(10, 59)} and sunset at {rng.randint(18, 21)}:{rng.randint(10, 59)}. "
            "The forecast is updated every morning; check before you travel.")
    return title, body


def match_report(rng: random.Random, day: str) -> tuple[str, str]:
    """A football result."""
    home, away = rng.sample(TEAMS, 2)
    h, a = rng.randint(0, 4), rng.randint(0, 4)
    scorer, other, manager = rng.sample(PEOPLE, 3)
    title = f"{home} {h}-{a} {away}"
    body = (f"{home} and {away} played out a {h}-{a} result at {home.split()[0]} Park on {day}, in front of a crowd "
            f"of {rng.randint(8000, 31000):,}.\n\n"
            f"{scorer} opened the scoring in the {rng.randint(3, 44)}th minute, and {other} replied for the visitors "
            f"{rng.randint(46, 89)} minutes in after a spell of pressure.\n\n"
            f"The result leaves {home} {rng.choice(('third', 'fifth', 'eighth', 'twelfth'))} in the table with "
            f"{rng.randint(10, 60)} points from {rng.randint(10, 38)} games.\n\n"
            f"\"We have to be better than that in the final third,\" said {home} manager {manager} after the match. "
            "\"The players gave everything, and we move on to the next game.\"")
    return title, body


def earnings_report(rng: random.Random, day: str) -> tuple[str, str]:
    """A quarterly results story."""
    company, boss = rng.choice(COMPANIES), rng.choice(PEOPLE)
    quarter = rng.choice(("first", "second", "third", "fourth"))
    profit, revenue = rng.randint(40, 900), rng.randint(300, 9000)
    title = f"{company} {quarter}-quarter profit {'rises' if rng.random() < 0.5 else 'falls'} to {profit}m"
    body = (f"{company} reported a {quarter}-quarter pre-tax profit of {profit} million pounds on {day}, "
            f"{'up' if rng.random() < 0.5 else 'down'} {_pct(rng)}% on a year earlier, on revenue of {revenue:,} million.\n\n"
            f"The company raised its full-year dividend to {rng.randint(5, 60)}.{rng.randint(0, 9)} pence a share and said "
            f"it expected annual sales growth of between {rng.randint(1, 4)}% and {rng.randint(5, 9)}%.\n\n"
            f"\"Our teams delivered a solid quarter in a demanding market,\" chief executive {boss} said in a statement.\n\n"
            f"Shares in {company} closed {_pct(rng)}% {'higher' if rng.random() < 0.5 else 'lower'}. The company will "
            "publish its next trading update at the end of the quarter.")
    return title, body


def traffic_bulletin(rng: random.Random, day: str) -> tuple[str, str]:
    """A traffic and travel bulletin."""
    road, incident = rng.choice(ROADS), rng.choice(INCIDENTS)
    j1 = rng.randint(1, 30)
    town = rng.choice(TOWNS)
    title = f"Traffic: delays on the {road} near {town} after {incident}"
    body = (f"Drivers on the {road} face delays of up to {rng.randint(15, 90)} minutes between junctions {j1} and "
            f"{j1 + rng.randint(1, 3)} this {day} morning after {incident} near {town}.\n\n"
            f"{rng.randint(1, 3)} of the {rng.randint(3, 4)} lanes are closed {rng.choice(('northbound', 'southbound', 'eastbound', 'westbound'))}, "
            f"and queues stretch back {rng.randint(2, 9)} miles. Highways officers expect the road to reopen fully by "
            f"{rng.randint(10, 12)}:{rng.choice(('00', '15', '30', '45'))}.\n\n"
            "Drivers are advised to allow extra time for their journeys and to check for updates before they travel.")
    return title, body


def court_list(rng: random.Random, day: str) -> tuple[str, str]:
    """A magistrates' court list."""
    court = rng.choice(TOWNS)
    entries = []
    for person in rng.sample(PEOPLE, 4):
        entries.append(f"{person}, {rng.randint(19, 71)}, of {rng.choice(TOWNS)}, was fined {rng.randint(80, 1500)} pounds "
                       f"for {rng.choice(OFFENCES)} and ordered to pay costs of {rng.randint(50, 400)} pounds.")
    title = f"{court} court list for {day}"
    body = (f"The following cases were heard at {court} Magistrates' Court on {day}.\n\n" + "\n\n".join(entries)
            + "\n\nThe court list is published as it was given to us by the court service.")
    return title, body


TEMPLATES: dict[str, Callable[[random.Random, str], tuple[str, str]]] = {
    "market wrap": market_wrap, "weather forecast": weather_forecast, "match report": match_report,
    "earnings report": earnings_report, "traffic bulletin": traffic_bulletin, "court list": court_list,
}


@dataclass(frozen=True)
class Report:
    """One day's report of a templated series."""

    template: str
    series: int
    day: int
    title: str
    body: str

    @property
    def key(self) -> str:
        """A name for the report, also its key for the tuning/report split (by series)."""
        return f"t:{self.template.replace(' ', '-')}:{self.series}:{self.day}"

    @property
    def series_key(self) -> str:
        """The series the report belongs to."""
        return f"{self.template}:{self.series}"


def templated_series(seed: int, series: int = SERIES_PER_TEMPLATE, days: int = DAYS_PER_SERIES) -> list[Report]:
    """`series` series of `days` consecutive daily reports from each template."""
    reports = []
    for template, write in TEMPLATES.items():
        for number in range(series):
            rng = random.Random(f"{seed}:{template}:{number}")
            start = rng.randrange(len(DAYS))
            for day in range(days):
                title, body = write(rng, DAYS[(start + day) % len(DAYS)])
                reports.append(Report(template, number, day, title, body))
    return reports
