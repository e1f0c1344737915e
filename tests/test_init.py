import pytest

import ganlib
from ganlib._checks import check_choice, check_positive, check_range, check_same_length


@pytest.mark.parametrize(
    "env, expected",
    [({"GANLIB_PRESET": "quick"}, "quick"), ({"GANLIB_PRESET": "GPU"}, "gpu"),
     ({"GANLIB_QUICK": "1"}, "quick"), ({"GANLIB_PRESET": "cpu", "GANLIB_QUICK": "1"}, "cpu")],
)
def test_preset_from_environment(monkeypatch, env, expected):
    monkeypatch.delenv("GANLIB_PRESET", raising=False)
    monkeypatch.delenv("GANLIB_QUICK", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert ganlib.preset() == expected


def test_preset_without_environment_is_cpu_or_gpu(monkeypatch):
    monkeypatch.delenv("GANLIB_PRESET", raising=False)
    monkeypatch.delenv("GANLIB_QUICK", raising=False)
    assert ganlib.preset() == ("gpu" if ganlib._has_gpu() else "cpu")


def test_wrong_preset_name_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("GANLIB_PRESET", "fast")
    with pytest.raises(ValueError, match=r"GANLIB_PRESET='fast'.*'quick', 'cpu', 'gpu'"):
        ganlib.preset()


def test_setup_reports_versions_and_seeds(monkeypatch, capsys):
    import numpy as np

    monkeypatch.setenv("GANLIB_PRESET", "quick")
    info = ganlib.setup(seed=7)
    first = np.random.rand(3)
    ganlib.setup(seed=7, verbose=False)
    assert np.array_equal(first, np.random.rand(3))
    assert info["preset"] == "quick" and info["seed"] == 7
    assert info["tensorflow"].startswith("2.") and info["keras"].startswith("3.")
    assert "TensorFlow" in capsys.readouterr().out


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True])
def test_setup_rejects_bad_seed(seed):
    with pytest.raises(ValueError, match="seed="):
        ganlib.setup(seed=seed, verbose=False)


def test_checks_name_argument_value_and_what_is_allowed():
    with pytest.raises(ValueError, match=r"loss='x' is not allowed; use one of 'a', 'b'"):
        check_choice("loss", "x", ["a", "b"])
    with pytest.raises(ValueError, match=r"steps=0 must be a positive integer"):
        check_positive("steps", 0, integer=True)
    with pytest.raises(ValueError, match=r"steps=2.5 must be a positive integer"):
        check_positive("steps", 2.5, integer=True)
    with pytest.raises(ValueError, match=r"std=-1 must be a positive number"):
        check_positive("std", -1)
    with pytest.raises(ValueError, match=r"outside the allowed range \[0.0, 0.5\)"):
        check_range("label_smoothing", 0.7, 0.0, 0.5, high_open=True)
    with pytest.raises(ValueError, match=r"means has 2, stds has 3"):
        check_same_length(means=[0, 1], stds=[1, 1, 1])
    assert check_positive("n", 3, integer=True) == 3


def test_submodules_are_reachable_from_the_package():
    assert ganlib.metrics.wasserstein_1d([0.0], [1.0]) == 1.0
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        ganlib.nonsense


def _run_python(code, **env_changes):
    """Run `code` in a fresh interpreter (TensorFlow reads its oneDNN switch once, at import)."""
    import os
    import subprocess
    import sys

    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for key, value in env_changes.items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_import_ganlib_turns_onednn_on_before_tensorflow_loads():
    out = _run_python("import os, ganlib; print(os.environ['TF_ENABLE_ONEDNN_OPTS'], ganlib.onednn_enabled())",
                      TF_ENABLE_ONEDNN_OPTS=None)
    assert out.split() == ["1", "True"]


def test_onednn_setting_of_the_user_wins():
    out = _run_python("import ganlib; print(ganlib.onednn_enabled()); ganlib.setup(verbose=True)",
                      TF_ENABLE_ONEDNN_OPTS="0", GANLIB_PRESET="quick")
    assert out.splitlines()[0] == "False"
    assert "oneDNN off" in out and "Note:" not in out  # a deliberate choice gets no advice


def test_tensorflow_imported_first_keeps_onednn_off_and_setup_says_how_to_fix_it():
    from ganlib._bench import tensorflow_default_onednn

    if tensorflow_default_onednn() == "1":
        pytest.skip("TensorFlow turns oneDNN on by itself on this CPU")
    out = _run_python("import tensorflow, ganlib; ganlib.setup(verbose=True)",
                      TF_ENABLE_ONEDNN_OPTS=None, GANLIB_PRESET="quick")
    assert "oneDNN off" in out
    assert "Import ganlib first, or set TF_ENABLE_ONEDNN_OPTS=1" in out


def test_tensorflow_imported_first_setup_reports_the_kernels_tensorflow_loaded_with():
    """TensorFlow logs "oneDNN custom operations are on" when it loads with them; setup() must agree
    (on TensorFlow <= 2.19 the probe reads TF_ENABLE_ONEDNN_OPTS when asked, so ganlib must not set
    it once TensorFlow is loaded)."""
    import os
    import subprocess
    import sys

    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0", GANLIB_PRESET="quick")
    environment.pop("TF_ENABLE_ONEDNN_OPTS", None)
    code = ("import os, tensorflow, ganlib; info = ganlib.setup(verbose=True); "
            "print('switch', os.environ.get('TF_ENABLE_ONEDNN_OPTS'), 'reported', info['onednn'])")
    result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    words = result.stdout.split()
    assert words[-4:-2] == ["switch", "None"]  # left as TensorFlow loaded with it
    loaded_with_onednn = "oneDNN custom operations are on" in result.stderr
    if words[-1] == "None":
        pytest.skip("this TensorFlow build cannot tell whether oneDNN is on")
    assert words[-1] == str(loaded_with_onednn)
    assert ("oneDNN on" if loaded_with_onednn else "oneDNN off") in result.stdout


def test_the_test_process_runs_what_users_get():
    """conftest imports ganlib first, so these tests exercise the oneDNN kernels users get."""
    import os

    if ganlib._ONEDNN_SET_BY_USER == "0":
        pytest.skip("TF_ENABLE_ONEDNN_OPTS=0 was set for this test run")
    assert ganlib._TENSORFLOW_IMPORTED_FIRST is False
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"
    enabled = ganlib.onednn_enabled()
    if enabled is None:
        pytest.skip("this TensorFlow build cannot tell whether oneDNN is on")
    assert enabled is True


def test_setup_names_the_cpu_kernels_only_when_training_runs_on_the_cpu(monkeypatch, capsys):
    monkeypatch.setenv("GANLIB_PRESET", "gpu")
    monkeypatch.setattr(ganlib, "_device", lambda: "GPU x1")
    info = ganlib.setup(seed=0)
    out = capsys.readouterr().out
    assert "device GPU x1 |" in out and "oneDNN" not in out
    # the state is still reported in the dict, the same as onednn_enabled() says
    assert info["device"] == "GPU x1" and info["preset"] == "gpu"
    assert info["onednn"] is ganlib.onednn_enabled()


def test_setup_leaves_the_hash_seed_to_the_interpreter_start(monkeypatch):
    """PYTHONHASHSEED is read when Python starts: setup() neither sets it nor overrides the user's."""
    import os

    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    ganlib.setup(seed=7, verbose=False)
    assert "PYTHONHASHSEED" not in os.environ
    monkeypatch.setenv("PYTHONHASHSEED", "123")
    ganlib.setup(seed=7, verbose=False)
    assert os.environ["PYTHONHASHSEED"] == "123"
    assert "PYTHONHASHSEED" in ganlib.setup.__doc__ and "Makefile" in ganlib.setup.__doc__


def test_setting_the_hash_seed_after_start_changes_nothing_in_this_process():
    """Why setup() does not pretend: two interpreters started with different PYTHONHASHSEED hash a
    string differently even when both set the same PYTHONHASHSEED after starting."""
    code = "import os; os.environ['PYTHONHASHSEED'] = '0'; print(hash('ganlib'))"
    first = _run_python(code, PYTHONHASHSEED="1")
    second = _run_python(code, PYTHONHASHSEED="2")
    assert first != second
    assert _run_python(code, PYTHONHASHSEED="1") == first  # the start-up value decides


@pytest.mark.parametrize("imports", ["import ganlib, keras", "import ganlib, tensorflow as tf; keras = tf.keras",
                                     "import keras, ganlib"])
def test_every_generator_ganlib_writes_loads_after_import_ganlib(imports, tmp_path):
    """Issues 23 and 25 (item 14): a --mirror run's generator.keras failed with "Could not
    locate class 'MirrorSymmetric'" unless ganlib.models happened to be imported."""
    import subprocess
    import sys

    from ganlib import models

    path = tmp_path / "generator.keras"
    models.dcgan_generator(8, 16, 3, width=4, mirror=True).save(path)
    code = (f"{imports}\n"
            f"model = keras.models.load_model({str(path)!r})\nprint(type(model.layers[-1]).__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "MirrorSymmetric"


def test_import_ganlib_does_not_load_keras():
    import subprocess
    import sys

    code = "import ganlib, sys; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "False"]
