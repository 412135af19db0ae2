using Tributary.ConformanceClient;

// The client under test of the MCP conformance suite's client scenarios: Tributary.Client. The suite runs
// "<command> <server URL>" with the scenario's name in MCP_CONFORMANCE_SCENARIO and, for some scenarios, a JSON object of
// credentials in MCP_CONFORMANCE_CONTEXT. Exit code 0 when the scenario's steps succeeded, 1 when one failed, 2 for usage.
return await ConformanceScenarios.RunAsync(
    args,
    Environment.GetEnvironmentVariable("MCP_CONFORMANCE_SCENARIO"),
    ConformanceContext.Parse(Environment.GetEnvironmentVariable("MCP_CONFORMANCE_CONTEXT")));
