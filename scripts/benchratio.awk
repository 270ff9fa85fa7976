# Reads `go test -bench` output and prints, for every benchmark .../X that
# has a sibling .../baseline in the same package, the ratio of their
# events/s: X over baseline. Benchmarks of the same name in two packages
# (eventlog/postgres and eventlog/sqlite) are told apart by the package.
function metric(line,   n, f, i) {
	n = split(line, f, /[ \t]+/)
	for (i = 2; i <= n; i++) if (f[i] == "events/s") return f[i-1]
	return ""
}
/^pkg: / { pkg = $2; sub(/^github.com\/bizevents\/bizevents\//, "", pkg) }
/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	if (pkg != "") name = pkg ": " name
	v = metric($0)
	if (v == "") { print; next }
	parent = name; sub(/\/[^\/]*$/, "", parent)
	leaf = substr(name, length(parent) + 2)
	if (leaf == "baseline") { base[parent] = v }
	else if (!(name in got)) { got[name] = v; par[name] = parent; order[++count] = name }
}
{ print }
END {
	if (count == 0) exit
	print ""
	printf "%-70s %14s %14s %7s\n", "ratio X/baseline (events/s)", "baseline", "X", "ratio"
	for (i = 1; i <= count; i++) {
		k = order[i]; p = par[k]
		if (p in base && base[p] > 0) printf "%-70s %14.0f %14.0f %7.2f\n", k, base[p], got[k], got[k] / base[p]
	}
}
