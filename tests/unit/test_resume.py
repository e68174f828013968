"""The shared resume-and-publish protocol of the trainings (symlearn.resume)."""

import pytest

from symlearn.resume import RESUME_DIR, ResumeFolder

PATTERN = r"step_(\d+)\.ckpt"


def test_a_new_folder_starts_from_scratch_and_resumes_from_its_last_checkpoint(tmp_path):
    work = ResumeFolder(tmp_path / "run", {"lr": 1e-3}, PATTERN)
    assert work.open() is None
    assert work.path == tmp_path / "run" / RESUME_DIR
    for step in (0, 10, 5):
        (work.path / f"step_{step}.ckpt").write_text(str(step))
    (work.path / "step_x.ckpt").write_text("not a checkpoint of the schedule")
    assert work.saved() == [0, 5, 10]
    assert work.missing([0, 5, 10, 15]) == [15]
    again = ResumeFolder(tmp_path / "run", {"lr": 1e-3}, PATTERN)
    assert again.open() == 10
    assert (again.path / "step_5.ckpt").read_text() == "5"


def test_another_fingerprint_discards_the_interrupted_run(tmp_path):
    work = ResumeFolder(tmp_path, {"lr": 1e-3}, PATTERN)
    work.open()
    (work.path / "step_5.ckpt").write_text("5")
    other = ResumeFolder(tmp_path, {"lr": 2e-3}, PATTERN)
    assert other.open() is None
    assert other.saved() == []


def test_publish_writes_every_output_then_removes_the_working_folder(tmp_path):
    work = ResumeFolder(tmp_path, {}, PATTERN)
    work.open()
    (work.path / "step_1.ckpt").write_text("weights")
    work.publish({"checkpoints/step_1.ckpt": work.copy("step_1.ckpt"),
                  "log.csv": lambda tmp: tmp.write_text("a,b\n")})
    assert (tmp_path / "checkpoints" / "step_1.ckpt").read_text() == "weights"
    assert (tmp_path / "log.csv").read_text() == "a,b\n"
    assert not work.path.exists()


def test_a_failed_publish_leaves_nothing_finished_and_keeps_the_checkpoints(tmp_path):
    work = ResumeFolder(tmp_path, {}, PATTERN)
    work.open()
    (work.path / "step_1.ckpt").write_text("weights")

    def broken(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        work.publish({"a.csv": lambda tmp: tmp.write_text("x"), "b.csv": broken})
    assert not (tmp_path / "b.csv").exists()
    assert not list(tmp_path.glob(".b.csv.*"))
    assert work.saved() == [1]  # the next attempt resumes, then publishes again


def test_the_log_says_what_a_checkpoint_counts(tmp_path, caplog):
    work = ResumeFolder(tmp_path, {}, r"epoch_(\d+)\.ckpt", "epoch")
    work.open()
    (work.path / "epoch_4.ckpt").write_text("")
    with caplog.at_level("WARNING", logger="symlearn"):
        assert ResumeFolder(tmp_path, {}, r"epoch_(\d+)\.ckpt", "epoch").open() == 4
    assert "after 4 epoch(s)" in caplog.text
