"""Write a GSM8K-format file of synthetic grade-school word problems (not GSM8K itself).

Run: python benchmarks/make_gsm8k_style.py [--count 100] [--seed 0] [--out benchmarks/data/gsm8k_style.jsonl]

GSM8K cannot be downloaded on this project's machines, so this builds problems
in its file format (`question`, and `answer` ending in `#### N`) from ten
two- or three-step templates (prices, rates, time, sharing, percentages), with
numbers drawn from a seeded `random.Random`. They are easier and more uniform
than GSM8K's, so accuracy on them says nothing about GSM8K accuracy; they
exercise the GSM8K loader and free-form answers end to end.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from pathlib import Path

NAMES = ["Ava", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jamal"]


def _pens(r: random.Random, who: str) -> tuple[str, str, int]:
    boxes, per_box, used = r.randint(2, 9), r.randint(3, 12), r.randint(1, 10)
    total = boxes * per_box - used
    return (f"{who} buys {boxes} boxes of pens with {per_box} pens in each box. {who} gives away {used} pens. "
            f"How many pens does {who} have left?",
            f"{boxes} * {per_box} = {boxes * per_box}\n{boxes * per_box} - {used} = {total}", total)


def _wage(r: random.Random, who: str) -> tuple[str, str, int]:
    rate, hours, days = r.randint(8, 25), r.randint(2, 8), r.randint(2, 6)
    total = rate * hours * days
    return (f"{who} earns ${rate} an hour and works {hours} hours a day for {days} days. "
            f"How many dollars does {who} earn?", f"{rate} * {hours} = {rate * hours}\n"
            f"{rate * hours} * {days} = {total}", total)


def _share(r: random.Random, who: str) -> tuple[str, str, int]:
    friends, each, extra = r.randint(2, 6), r.randint(3, 15), r.randint(1, 9)
    total = friends * each + extra
    return (f"{who} shares cookies equally among {friends} friends, giving each friend {each} cookies, "
            f"and keeps {extra} cookies. How many cookies did {who} have at the start?",
            f"{friends} * {each} = {friends * each}\n{friends * each} + {extra} = {total}", total)


def _speed(r: random.Random, who: str) -> tuple[str, str, int]:
    speed, hours, back = r.randint(20, 70), r.randint(2, 5), r.randint(5, 30)
    total = speed * hours - back
    return (f"{who} drives at {speed} miles per hour for {hours} hours, then drives {back} miles back. "
            f"How many miles from the start is {who}?",
            f"{speed} * {hours} = {speed * hours}\n{speed * hours} - {back} = {total}", total)


def _change(r: random.Random, who: str) -> tuple[str, str, int]:
    price, count, paid = r.randint(2, 9), r.randint(2, 8), 100
    total = paid - price * count
    return (f"{who} buys {count} notebooks that cost ${price} each and pays with a $100 bill. "
            f"How many dollars of change does {who} get?",
            f"{count} * {price} = {count * price}\n100 - {count * price} = {total}", total)


def _percent(r: random.Random, who: str) -> tuple[str, str, int]:
    price, off = r.choice([20, 40, 50, 60, 80, 100, 120, 200]), r.choice([10, 25, 50])
    total = price - price * off // 100
    return (f"A jacket costs ${price}. {who} gets a {off}% discount. How many dollars does {who} pay?",
            f"{price} * {off} / 100 = {price * off // 100}\n{price} - {price * off // 100} = {total}", total)


def _garden(r: random.Random, who: str) -> tuple[str, str, int]:
    rows, per_row, dead = r.randint(3, 9), r.randint(4, 10), r.randint(1, 6)
    total = rows * per_row - dead
    return (f"{who} plants {rows} rows of tomatoes with {per_row} plants in each row. {dead} plants die. "
            f"How many plants are left?",
            f"{rows} * {per_row} = {rows * per_row}\n{rows * per_row} - {dead} = {total}", total)


def _minutes(r: random.Random, who: str) -> tuple[str, str, int]:
    per_day, days, bonus = r.randint(10, 45), r.randint(3, 7), r.randint(5, 30)
    total = per_day * days + bonus
    return (f"{who} reads for {per_day} minutes every day for {days} days, and then reads {bonus} more minutes "
            f"on the weekend. How many minutes does {who} read in total?",
            f"{per_day} * {days} = {per_day * days}\n{per_day * days} + {bonus} = {total}", total)


def _split_bill(r: random.Random, who: str) -> tuple[str, str, int]:
    people, each = r.randint(2, 6), r.randint(5, 20)
    bill, tip = people * each, r.randint(2, 10)
    total = bill + tip
    return (f"{who} and friends split a bill so that {people} people each pay ${each}. They also leave a ${tip} "
            f"tip. How many dollars do they spend in total?",
            f"{people} * {each} = {bill}\n{bill} + {tip} = {total}", total)


def _eggs(r: random.Random, who: str) -> tuple[str, str, int]:
    hens, eggs, eaten, price = r.randint(2, 6), r.randint(2, 5), r.randint(1, 4), r.randint(1, 3)
    laid = hens * eggs
    eaten = min(eaten, laid - 1)
    total = (laid - eaten) * price
    return (f"{who} has {hens} hens that each lay {eggs} eggs a day. {who} eats {eaten} eggs a day and sells "
            f"the rest for ${price} each. How many dollars does {who} make a day?",
            f"{hens} * {eggs} = {laid}\n{laid} - {eaten} = {laid - eaten}\n{laid - eaten} * {price} = {total}", total)


TEMPLATES: list[Callable[[random.Random, str], tuple[str, str, int]]] = [
    _pens, _wage, _share, _speed, _change, _percent, _garden, _minutes, _split_bill, _eggs]


def build(count: int, seed: int) -> list[dict]:
    rng = random.Random(f"gsm8k-style-{seed}")
    rows = []
    for i in range(count):
        question, steps, answer = TEMPLATES[i % len(TEMPLATES)](rng, rng.choice(NAMES))
        rows.append({"id": f"gsm8k-style-{i:03d}", "question": question, "answer": f"{steps}\n#### {answer}"})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/gsm8k_style.jsonl"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(row) + "\n" for row in build(args.count, args.seed)))
    print(f"wrote {args.count} problems to {args.out}")


if __name__ == "__main__":
    main()
