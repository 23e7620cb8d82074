# scripts/sloc.awk: prints "CODE LINES FILE" per file. Used by audit.sh.
# Lines of C that hold code: not blank, not only comment. Handles /* */ that
# span lines and // comments; string contents are not special-cased (the
# loader's strings hold no comment markers).
{
	line = $0; code = 0
	while (length(line)) {
		if (inc) {
			i = index(line, "*/")
			if (!i) { line = ""; break }
			line = substr(line, i + 2); inc = 0; continue
		}
		i = index(line, "/*"); j = index(line, "//")
		if (j && (!i || j < i)) {
			if (substr(line, 1, j - 1) ~ /[^ \t]/) code = 1
			line = ""; break
		}
		if (i) {
			if (substr(line, 1, i - 1) ~ /[^ \t]/) code = 1
			line = substr(line, i + 2); inc = 1; continue
		}
		if (line ~ /[^ \t]/) code = 1
		line = ""
	}
	if (code) n[FILENAME]++
	phys[FILENAME]++
}
END { for (f in phys) printf "%5d %5d %s\n", n[f], phys[f], f }
