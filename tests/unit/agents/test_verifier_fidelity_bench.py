"""bench/heal_verifier_fidelity.py: its recording verifier predicts what the policy's verifier predicts."""

from airan.agents.policies.airan import AiranConfig, AiranPolicy
from airan.agents.runner import run_policy_episode
from airan.agents.suite import SuiteEpisode, episode_to_dict
from airan.twin.faults import Fault

from ._helpers import load_bench

EP = SuiteEpisode("fid-0", "ci-tiny", 3, 12, (Fault("cell_outage", (4,), onset_rop=5),))


def _predictions(log):
    return [n for d in log["decisions"] for n in d.get("notes", []) if "predicted change" in n]


def test_recorded_rollouts_are_the_imperfect_twins_not_the_truth():
    mod = load_bench("heal_verifier_fidelity")
    out = mod._job({"episode": episode_to_dict(EP), "verifier": {}}, "")
    plain = run_policy_episode(EP, AiranPolicy(AiranConfig()))
    probe = mod.ProbePolicy()
    probed = run_policy_episode(EP, probe)
    # recording changes nothing the policy decides or predicts
    assert _predictions(probed) == _predictions(plain) and _predictions(plain)
    assert out["records"] and all(r["episode"] == "fid-0" for r in out["records"])
    cands = [c for r in out["records"] for c in r["candidates"] if c["true"] is not None]
    assert cands
    # the verifier's rollouts (imperfect twins, 2 seeds x severities) differ from the true change: were they
    # the true network's (the ablation's handle), they would track it to the last digit in some candidate
    assert all(len(c["rollouts"]) >= 2 for c in cands)
    assert any(min(abs(x - c["true"]) for x in c["rollouts"]) > 1e-6 for c in cands)
    assert probe.verifier.true_twin is None
