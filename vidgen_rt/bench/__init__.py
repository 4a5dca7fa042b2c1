"""vidgen_rt.bench: the `vidgen bench` benchmark (docs/architecture.md §7). MLPerf LoadGen-style scenarios
(`scenarios`) over backends side by side in one process (`backends`), the model's FLOPs per frame and
this machine's measured matmul peak and memory read bandwidth (`peak`) for roofline fractions and
each row's per-frame floor (`floor`), the JSON / PNG / Markdown presentation (`report`);
`run.run_bench` ties them together."""
