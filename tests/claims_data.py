"""A synthetic but news-like set of labelled sentences for the claim classifier.

Articles are made from templates written for this project: check-worthy factual
statements (CFS: figures, records, votes, what a policy does), unimportant factual
statements (UFS: who was where, when a meeting began) and non-factual ones (NFS:
opinions, questions, hopes, predictions).  The three classes share their names,
places and topics, so a model has to learn how a sentence is built, not which
article it came from; a share of labels is flipped, as annotators disagree.

    >>> examples = articles(random.Random(1), 40)   # [(article_key, sentence, label), ...]
"""
from __future__ import annotations

import random

LABELS = ("CFS", "UFS", "NFS")
# Shares of the three classes in an article: NFS is the most common, as in news.
SHARES = (0.35, 0.2, 0.45)

PEOPLE = ["Mayor Ana Ruiz", "Councillor Tom Okafor", "the health minister", "Senator Mary Lindqvist",
          "the finance secretary", "Dr. Priya Nair", "the police chief", "Governor Jan Kowalski",
          "the union leader", "the school superintendent", "Professor Lena Brandt", "the opposition leader"]
PLACES = ["Riverton", "the northern district", "Port Ellis", "the capital", "Hollow Creek", "the county",
          "Westbrook", "the eastern region", "Millbay", "the state"]
TOPICS = ["housing", "the hospital budget", "bus fares", "the new bridge", "school meals", "water quality",
          "the tax plan", "police staffing", "the flood defences", "rent controls", "the stadium deal",
          "childcare costs"]
THINGS = ["homes", "nurses", "teachers", "buses", "jobs", "beds", "officers", "flats", "classrooms", "permits"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
VENUES = ["the town hall", "a community centre", "the press room", "a school gym", "the library",
          "a hotel ballroom", "the council chamber"]

CFS = [
    "Unemployment in {place} rose to {pct} percent last year, up from {pct2} percent in {year}.",
    "The government spent ${money} million on {topic} in {year}, according to official figures.",
    "{person} said the number of {things} in {place} has fallen by {pct} percent since {year}.",
    "Crime in {place} dropped {pct}% over the past {n} years, police data show.",
    "The bill passed by {n2} votes to {n}, with {n3} members abstaining.",
    "{place} has {n3} fewer {things} than it did a decade ago.",
    "Spending on {topic} doubled between {year} and {year2}.",
    "The plan cuts {money} million dollars from {topic} over {n} years.",
    "Average rents in {place} climbed {pct} percent in {year}, the highest rise on record.",
    "{person} claimed that {topic} costs every household ${money} a year.",
    "Only {pct} percent of {things} in {place} met the national standard last year.",
    "The law requires every employer in {place} to report {topic} figures each quarter.",
    "Waiting times for {topic} have tripled since {year}, a state audit found.",
    "The county hired {n3} new {things} in {year}, the largest increase since {year2}.",
    "Exports from {place} fell to ${money} million in the first quarter.",
]
UFS = [
    "{person} arrived at {venue} shortly after {hour} a.m. on {day}.",
    "The meeting on {topic} began at {hour} p.m. and lasted about an hour.",
    "{person} spoke to reporters outside {venue} on {day}.",
    "The event was held at {venue} in {place}.",
    "{person} was joined by two aides and a spokesperson.",
    "The press conference took place on {day} morning.",
    "Reporters gathered at {venue} before the vote.",
    "{person} travelled to {place} by train on {day}.",
    "The hearing on {topic} was moved to {venue} because of the crowd.",
    "{person} wore a dark suit and carried a folder of notes.",
    "The statement was posted online on {day} evening.",
    "Residents queued outside {venue} in {place} from early {day}.",
]
NFS = [
    "I think {topic} is the most important issue facing {place}.",
    "Will {person} keep the promise on {topic}?",
    "{person} said the plan for {topic} was a disgrace.",
    "We hope the council will finally listen to us about {topic}.",
    "This is a great day for everyone in {place}.",
    "Critics fear {topic} could become a disaster for {place}.",
    "What happens next to {topic} is anyone's guess.",
    "{person} believes the deal on {topic} will be good for {place}.",
    "It would be wrong to blame {person} for the mess.",
    "Nobody should have to choose between {things} and {topic}.",
    "{person} promised to fight for {topic} until the end.",
    "Frankly, {topic} deserves much more attention.",
    "Could {place} really afford to wait another year?",
    "The decision on {topic} will probably anger many voters.",
    "{person} called the vote a shameful betrayal of {place}.",
]
TEMPLATES = {"CFS": CFS, "UFS": UFS, "NFS": NFS}


def fill(template: str, rng: random.Random, person: str, place: str, topic: str) -> str:
    """The template with its slots filled; the article's own person, place and topic most of the time."""
    values = {
        "person": person if rng.random() < 0.7 else rng.choice(PEOPLE),
        "place": place if rng.random() < 0.8 else rng.choice(PLACES),
        "topic": topic if rng.random() < 0.7 else rng.choice(TOPICS),
        "things": rng.choice(THINGS), "venue": rng.choice(VENUES), "day": rng.choice(DAYS),
        "pct": f"{rng.randint(2, 60)}" + (f".{rng.randint(1, 9)}" if rng.random() < 0.4 else ""),
        "pct2": str(rng.randint(2, 60)), "year": str(rng.randint(1998, 2024)), "year2": str(rng.randint(1998, 2024)),
        "money": f"{rng.randint(1, 900)}" + (f".{rng.randint(1, 9)}" if rng.random() < 0.3 else ""),
        "n": str(rng.randint(2, 20)), "n2": str(rng.randint(21, 90)), "n3": str(rng.randint(3, 400)),
        "hour": str(rng.randint(1, 11)),
    }
    text = template.format(**values)
    return text[0].upper() + text[1:]


def articles(rng: random.Random, count: int, noise: float = 0.1, prefix: str = "art") -> list[tuple[str, str, str]]:
    """`count` articles of 6 to 20 sentences each, as (article_key, sentence, label); `noise` of the labels
    are replaced by another class at random."""
    examples = []
    for number in range(count):
        key = f"{prefix}-{number:04d}"
        person, place, topic = rng.choice(PEOPLE), rng.choice(PLACES), rng.choice(TOPICS)
        for _ in range(rng.randint(6, 20)):
            label = rng.choices(LABELS, weights=SHARES)[0]
            sentence = fill(rng.choice(TEMPLATES[label]), rng, person, place, topic)
            if rng.random() < noise:
                label = rng.choice([x for x in LABELS if x != label])
            examples.append((key, sentence, label))
    return examples
