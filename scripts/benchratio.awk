# Reads `go test -bench` output and prints, for every pair of sibling
# benchmarks .../baseline and .../eventlog, the ratio of their events/s.
function metric(line,   n, f, i) {
	n = split(line, f, /[ \t]+/)
	for (i = 2; i <= n; i++) if (f[i] == "events/s") return f[i-1]
	return ""
}
/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	v = metric($0)
	if (v == "") next
	if (name ~ /\/baseline$/) { base[substr(name, 1, length(name) - 9)] = v }
	else if (name ~ /\/eventlog$/) { got[substr(name, 1, length(name) - 9)] = v; order[++count] = substr(name, 1, length(name) - 9) }
}
{ print }
END {
	if (count == 0) exit
	print ""
	printf "%-60s %14s %14s %7s\n", "ratio eventlog/baseline (events/s)", "baseline", "eventlog", "ratio"
	for (i = 1; i <= count; i++) {
		k = order[i]
		if (k in base && base[k] > 0) printf "%-60s %14.0f %14.0f %7.2f\n", k, base[k], got[k], got[k] / base[k]
	}
}
