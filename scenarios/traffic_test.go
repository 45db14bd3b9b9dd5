package scenarios_test

// trafficScenarios are the scenarios about traffic: isolation, self-healing,
// auto-discovery, a slow dependency and overload.
var trafficScenarios = []scenario{}

// trafficBlind shows those scenarios go red when what they test is broken on purpose.
var trafficBlind = []blind{}
