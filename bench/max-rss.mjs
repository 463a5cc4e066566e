// Loaded with `node --import`: reports the process's peak RSS and its CPU time (user + system, all threads) on
// stderr when it exits, for the benchmarks. CPU time is the steadier figure on a busy machine.
process.on('exit', () => {
  const usage = process.resourceUsage()
  process.stderr.write(`\nBENCH_MAX_RSS_KB=${usage.maxRSS} BENCH_CPU_US=${usage.userCPUTime + usage.systemCPUTime}\n`)
})
