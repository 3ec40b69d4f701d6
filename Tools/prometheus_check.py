#!/usr/bin/env python3
"""Parse a Prometheus text exposition (format 0.0.4) with the official client's parser.

Usage: prometheus_check.py FILE
Prints one line per metric family (name, type, samples); exit 1 when the text does not parse.
"""
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = open(sys.argv[1]).read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as error:  # the parser raises ValueError and friends on bad input
        print(f"parse error: {error}")
        sys.exit(1)
    for family in families:
        print(f"{family.name} {family.type} {len(family.samples)}")
        for sample in family.samples:
            print(f"  {sample.name} {sorted(sample.labels.items())} {sample.value}")


if __name__ == "__main__":
    main()
