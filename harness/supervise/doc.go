// Package supervise is the orchestrator the harness plays in both backends: Docker treats
// a kill through its API as a manual stop and never restarts it, and local child
// processes have nobody to restart them, so a Supervisor watches each instance's state
// and restarts the exited ones under a restart policy with exponential backoff, the way
// a kubelet or systemd would. It records every exit, restart and give-up into the run's
// history and keeps each restart's downtime for the recovery checks.
//
// A fault that wants an instance to stay down for its window holds it (Hold, Release);
// a paused instance is frozen, not failed, and is left alone.
//
// It imports runtime and history only. It must never import the harness root, fault,
// load, check, report, scenarios or reference-services.
package supervise
