package scenarios_test

// stateScenarios are the scenarios about state and discovery: partition from the
// registry, registry down, database loss, and the seeded nemesis on the kv register.
var stateScenarios = []scenario{}

// stateBlind shows those scenarios go red when what they test is broken on purpose.
var stateBlind = []blind{}
