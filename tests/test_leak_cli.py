"""`autograder leaks NOTEBOOK…`: the leak analysis alone, on any notebook, as a script reads it."""

from __future__ import annotations

import json

import nbformat
import pytest
from click.testing import CliRunner

from autograder.cli import main

LEAKY = ["from tensorflow.keras.datasets import mnist\n(x_train, y_train), (x_test, y_test) = mnist.load_data()",
         "%matplotlib inline\nmodel.fit(x_train, y_train, epochs=3, validation_data=(x_test, y_test))",
         "this cell does not parse (",
         "scaler = StandardScaler()\nx_all = scaler.fit_transform(np.concatenate([x_train, x_test]))"]
CLEAN = ["from tensorflow.keras.datasets import mnist\n(x_train, y_train), (x_test, y_test) = mnist.load_data()",
         "print(x_test.shape, len(x_test))\nmodel.fit(x_train, y_train, epochs=3, validation_split=0.1)",
         "test_accuracy = model.evaluate(x_test, y_test)[1]\nprint(test_accuracy)"]


def write(path, cells, markdown_first=True):
    notebook = nbformat.v4.new_notebook()
    if markdown_first:
        notebook.cells.append(nbformat.v4.new_markdown_cell("# A notebook"))
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def notebooks(tmp_path):
    return {"leaky": write(tmp_path / "leaky.ipynb", LEAKY), "clean": write(tmp_path / "clean.ipynb", CLEAN)}


def test_one_line_per_notebook_with_the_rules_in_order_and_the_evidence_indented(notebooks):
    result = CliRunner().invoke(main, ["leaks", str(notebooks["leaky"]), str(notebooks["clean"])])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{notebooks['leaky']}: leak L2,L5"  # test rows pooled only for the scaler: L5
    evidence = [line for line in lines[1:] if line.startswith("    ")]
    assert any(line.startswith("    L2 training on test, cell 3 line 2:") for line in evidence), evidence
    assert any(line.startswith("    L5 preprocessing, cell 5 line 2:") for line in evidence), evidence
    assert lines[-1] == f"{notebooks['clean']}: clean"


def test_json_for_scripts(notebooks):
    result = CliRunner().invoke(main, ["leaks", "--format", "json", str(notebooks["leaky"]), str(notebooks["clean"])])
    assert result.exit_code == 0
    documents = json.loads(result.output)
    assert [(d["verdict"], d["rules"]) for d in documents] == [("leak", ["L2", "L5"]), ("clean", [])]
    assert {"rule", "title", "cell", "line", "code", "explanation"} <= set(documents[0]["leaks"][0])


def test_an_unreadable_file_gets_a_line_saying_so_and_exit_status_2(notebooks, tmp_path):
    (tmp_path / "broken.ipynb").write_text('{"cells": [')
    result = CliRunner().invoke(main, ["leaks", str(tmp_path / "broken.ipynb"), str(notebooks["clean"])])
    assert result.exit_code == 2
    assert f"{tmp_path / 'broken.ipynb'}: unreadable (not valid JSON" in result.output
    assert f"{notebooks['clean']}: clean" in result.output
    assert "Traceback" not in result.output


def test_a_folder_is_searched_and_reflection_is_listed_for_a_person(tmp_path):
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "a.ipynb", ["data = globals()['x_' + 'test']\nmodel.fit(x_train, y_train)"])
    result = CliRunner().invoke(main, ["leaks", str(tmp_path)])
    assert result.exit_code == 0
    assert f"{tmp_path / 'sub' / 'a.ipynb'}: clean" in result.output
    assert "R reflection, cell 2 line 1" in result.output
    assert "for a person to read" in result.output


def test_final_models_of_separate_questions_may_each_be_scored_once(tmp_path):
    path = write(tmp_path / "two.ipynb", ["(x_train, y_train), (x_test, y_test) = mnist.load_data()",
                                          "mlp.fit(x_train, y_train)\nprint(mlp.evaluate(x_test, y_test))",
                                          "cnn.fit(x_train, y_train)\nprint(cnn.evaluate(x_test, y_test))"])
    assert "leak L1" in CliRunner().invoke(main, ["leaks", str(path)]).output
    result = CliRunner().invoke(main, ["leaks", "--final-model", "mlp", "--final-model", "cnn", str(path)])
    assert result.output.strip() == f"{path}: clean"
