"""Split the header-less TSV of posts-like rows into train and test (header-less TSV, as read)."""

import os
import random
import sys
from pathlib import Path

import yaml

params = yaml.safe_load(Path("params.yaml").read_text())["prepare"]

if len(sys.argv) != 2:
    sys.stderr.write("usage: python prepare.py data-file\n")
    sys.exit(1)

split = params["split"]
random.seed(params["seed"])

input_file = sys.argv[1]
output_train = os.path.join("data", "prepared", "train.tsv")
output_test = os.path.join("data", "prepared", "test.tsv")

os.makedirs(os.path.join("data", "prepared"), exist_ok=True)

with (
    open(input_file, encoding="utf-8") as fd_in,
    open(output_train, "w", encoding="utf-8") as fd_out_train,
    open(output_test, "w", encoding="utf-8") as fd_out_test,
):
    for line in fd_in:
        if random.random() > split:
            fd_out_train.write(line)
        else:
            fd_out_test.write(line)
