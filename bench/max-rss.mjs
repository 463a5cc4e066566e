// Loaded with `node --import`: reports the process's peak RSS on stderr when it exits, for the benchmarks.
process.on('exit', () => {
  process.stderr.write(`\nBENCH_MAX_RSS_KB=${process.resourceUsage().maxRSS}\n`)
})
