"""Ask a running `reasoner serve` with the plain `openai` client, choosing the strategy per request.

    reasoner serve --model tiny &          # in another shell
    python examples/openai_client.py --url http://127.0.0.1:8000/v1 --model tiny

The same question goes out twice: once as plain sampling, once with self-consistency over 8 samples;
each reply says what it cost.
"""

from __future__ import annotations

import argparse

from openai import OpenAI

QUESTION = "Ann has 3 pens and buys 4 more. Then she gives 2 to Omar. How many pens does she have?"


def ask(client: OpenAI, model: str, strategy: dict | None) -> dict:
    """One chat request; `strategy` goes in the `reasoner` field (None: plain sampling)."""
    extra = {"reasoner": strategy} if strategy else {}
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": QUESTION}], max_tokens=256, seed=0, extra_body=extra)
    details = (reply.choices[0].model_extra or {}).get("reasoner", {})
    return {"text": reply.choices[0].message.content, "answer": details.get("answer"),
            "completion_tokens": reply.usage.completion_tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/v1")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--key", default="none", help="API key; any string when the server runs without keys")
    args = parser.parse_args()
    client = OpenAI(base_url=args.url, api_key=args.key)
    for label, strategy in [("plain", None), ("self_consistency n=8", {"strategy": "self_consistency", "n": 8})]:
        reply = ask(client, args.model, strategy)
        print(f"{label}: answer {reply['answer']!r}, {reply['completion_tokens']} completion tokens")


if __name__ == "__main__":
    main()
