package parity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The comparison walks both Summaries as generic JSON trees, so that a field
// either side starts to report is compared (or flagged) without anyone adding
// it here. Every node of a tree — object, array, value — gets a path:
//
//	node.cpu.usageCoreNanoSeconds
//	node.systemContainers[pods].memory.workingSetBytes
//	pods[default/busy].containers[spin].cpu.usageNanoCores
//	pods[default/writer].volume[scratch].usedBytes
//	pods[default/net].network.interfaces[eth0].rxBytes
//
// Array elements are keyed by their name (pods by namespace/name, without the
// "-<node>" suffix static pods get), else by their index.

// value is one node of a flattened tree.
type value struct {
	kind byte // 'o' object, 'a' array, 'n' number, 's' string, 'b' bool, 'z' null
	num  json.Number
	str  string
	b    bool
}

func (v value) String() string {
	switch v.kind {
	case 'o':
		return "{…}"
	case 'a':
		return "[…]"
	case 'n':
		return v.num.String()
	case 's':
		return strconv.Quote(v.str)
	case 'b':
		return strconv.FormatBool(v.b)
	default:
		return "null"
	}
}

func (v value) float() (float64, bool) {
	if v.kind != 'n' {
		return 0, false
	}
	f, err := v.num.Float64()
	return f, err == nil
}

func (v value) time() (time.Time, bool) {
	if v.kind != 's' {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v.str)
	return t, err == nil
}

func (v value) equal(w value) bool {
	if v.kind != w.kind {
		return false
	}
	switch v.kind {
	case 'n':
		if v.num == w.num {
			return true
		}
		a, aok := v.float()
		b, bok := w.float()
		return aok && bok && a == b
	case 's':
		return v.str == w.str
	case 'b':
		return v.b == w.b
	}
	return true
}

// tree is a flattened Summary: every node by path.
type tree map[string]value

// parseTree flattens a Summary's JSON. nodeName is stripped from pod names.
func parseTree(data []byte, nodeName string) (tree, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("decode summary: %w", err)
	}
	t := tree{}
	flatten(root, "", "-"+nodeName, t)
	return t, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func flatten(v any, path, nodeSuffix string, out tree) {
	switch x := v.(type) {
	case map[string]any:
		if path != "" {
			out[path] = value{kind: 'o'}
		}
		for k, c := range x {
			flatten(c, join(path, k), nodeSuffix, out)
		}
	case []any:
		out[path] = value{kind: 'a'}
		for i, c := range x {
			p := path + "[" + elementKey(c, i, nodeSuffix) + "]"
			if _, dup := out[p]; dup {
				// Two elements of one name (two containers "x" in a
				// pod): the second is an element the other side lacks.
				p = path + "[" + elementKey(c, i, nodeSuffix) + "#" + strconv.Itoa(i) + "]"
			}
			flatten(c, p, nodeSuffix, out)
		}
	case json.Number:
		out[path] = value{kind: 'n', num: x}
	case string:
		out[path] = value{kind: 's', str: x}
	case bool:
		out[path] = value{kind: 'b', b: x}
	default:
		out[path] = value{kind: 'z'}
	}
}

// elementKey names an array element: a pod by its reference, anything with a
// name by it, the rest by index.
func elementKey(v any, i int, nodeSuffix string) string {
	m, ok := v.(map[string]any)
	if !ok {
		return strconv.Itoa(i)
	}
	if ref, ok := m["podRef"].(map[string]any); ok {
		ns, _ := ref["namespace"].(string)
		name, _ := ref["name"].(string)
		return ns + "/" + strings.TrimSuffix(name, nodeSuffix)
	}
	if name, ok := m["name"].(string); ok && name != "" {
		return name
	}
	return strconv.Itoa(i)
}

// parent is the path one level up ("" at the top): an element's array, a
// field's block.
func parent(path string) string {
	segs := segments(path)
	last := segs[len(segs)-1]
	if i := strings.IndexByte(last, '['); i > 0 && strings.HasSuffix(last, "]") {
		segs[len(segs)-1] = last[:i]
		return strings.Join(segs, ".")
	}
	return strings.Join(segs[:len(segs)-1], ".")
}

// segments splits a path at the dots outside brackets.
func segments(path string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '[':
			depth++
		case ']':
			depth--
		case '.':
			if depth == 0 {
				out = append(out, path[start:i])
				start = i + 1
			}
		}
	}
	return append(out, path[start:])
}

// matchPath matches a path against a pattern of the same shape, in which a
// segment "*" matches any one segment, "**" any number (at least one), and a
// "*" inside a segment (pods[default/*], *Bytes) any run of characters.
func matchPath(pattern, path string) bool {
	return matchSegs(segments(pattern), segments(path))
}

func matchSegs(pat, segs []string) bool {
	if len(pat) == 0 {
		return len(segs) == 0
	}
	if pat[0] == "**" {
		for i := 1; i <= len(segs); i++ {
			if matchSegs(pat[1:], segs[i:]) {
				return true
			}
		}
		return false
	}
	if len(segs) == 0 || !globMatch(pat[0], segs[0]) {
		return false
	}
	return matchSegs(pat[1:], segs[1:])
}

// globMatch matches s against a pattern in which '*' is any run of characters.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// readings are the Summaries of one comparison: the kubelet's just before
// ours, ours, and the kubelet's once every sample time of it is past ours.
type readings struct {
	before, ours, after tree
}

// finding is one compared field.
type finding struct {
	path   string
	ours   string
	kube   string
	rule   *Rule
	ok     bool
	reason string
}

// compare checks every path of the three readings against the rules. It
// returns a finding per path that was compared (a block present on one side
// only, or decided as a whole by its rule, is one finding, its children none)
// and the indexes of the rules that matched a path.
func compare(r readings, rules []Rule) (findings []finding, used map[int]bool) {
	used = map[int]bool{}
	paths := map[string]bool{}
	for p := range r.ours {
		paths[p] = true
	}
	for p := range r.after {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	// A block sorts before what it holds ("a.b" < "a.b.c", "a.b[x]").
	sort.Strings(sorted)
	var decided []string // blocks whose rule decided them whole
	for _, p := range sorted {
		if within(p, decided) {
			continue
		}
		o, inOurs := r.ours[p]
		k, inKube := r.after[p]
		idx, rule := ruleFor(rules, p)
		if idx >= 0 {
			used[idx] = true
		}
		f := finding{path: p, rule: rule}
		if inOurs {
			f.ours = o.String()
		}
		if inKube {
			f.kube = k.String()
			if kb, ok := r.before[p]; ok && !kb.equal(k) {
				f.kube = kb.String() + " … " + k.String()
			}
		}
		if rule != nil && rule.Kind.wholeBlock() {
			decided = append(decided, p)
		}
		switch {
		case rule != nil && rule.Kind == Transient:
			f.ok, f.reason = true, "not compared"
		case rule != nil && rule.Kind == KubeletZero:
			f.ok, f.reason = kubeletZero(r, p)
		case inOurs && !inKube:
			if pp := parent(p); pp != "" {
				if _, ok := r.ours[pp]; ok {
					if _, ok := r.after[pp]; !ok {
						continue // reported with its block
					}
				}
			}
			f.ok = rule != nil && rule.Kind == OursOnly
			f.reason = "only ours reports it"
		case !inOurs && inKube:
			if pp := parent(p); pp != "" {
				if _, ok := r.after[pp]; ok {
					if _, ok := r.ours[pp]; !ok {
						continue // reported with its block
					}
				}
			}
			f.ok = rule != nil && rule.Kind == KubeletOnly
			f.reason = "only the kubelet reports it"
		default:
			b, haveBefore := r.before[p]
			f.ok, f.reason = checkValue(rule, o, b, k, haveBefore)
		}
		findings = append(findings, f)
	}
	return findings, used
}

// within tells whether path lies inside one of the blocks.
func within(path string, blocks []string) bool {
	for _, b := range blocks {
		if strings.HasPrefix(path, b) && len(path) > len(b) && (path[len(b)] == '.' || path[len(b)] == '[') {
			return true
		}
	}
	return false
}

// kubeletZero accepts a field or block the kubelet reports as zeros in both
// its readings (every number in it 0), whatever ours says of it.
func kubeletZero(r readings, path string) (bool, string) {
	if _, ok := r.after[path]; !ok {
		return false, "the kubelet does not report it: the exception is out of date"
	}
	for _, t := range []tree{r.before, r.after} {
		for p, v := range t {
			if p != path && !within(p, []string{path}) {
				continue
			}
			if f, ok := v.float(); ok && f != 0 {
				return false, fmt.Sprintf("the kubelet reports %s = %s, not zero: the exception is out of date", p, v)
			}
		}
	}
	return true, ""
}

// ruleFor returns the first rule whose field matches the path, with its
// index; -1 and nil when none does (the field must then be equal).
func ruleFor(rules []Rule, path string) (int, *Rule) {
	for i := range rules {
		if matchPath(rules[i].Field, path) {
			return i, &rules[i]
		}
	}
	return -1, nil
}

// checkValue compares a field both sides report.
func checkValue(rule *Rule, o, before, after value, haveBefore bool) (bool, string) {
	kind := Equal
	if rule != nil {
		kind = rule.Kind
	}
	if o.kind == 'o' || o.kind == 'a' {
		if o.kind != after.kind {
			return false, "a block on one side, a value on the other"
		}
		if kind == OursOnly || kind == KubeletOnly {
			return false, "both report it: the exception is out of date"
		}
		return true, ""
	}
	switch kind {
	case OursOnly, KubeletOnly:
		return false, "both report it: the exception is out of date"
	case Differs:
		return true, "not compared"
	case Equal:
		if o.equal(after) || (haveBefore && o.equal(before)) {
			return true, ""
		}
		return false, "not equal"
	case Time:
		ot, ok1 := o.time()
		at, ok2 := after.time()
		if !ok1 || !ok2 {
			return false, "not a time"
		}
		lo, hi := at, at
		oneSided := false
		if bt, ok := before.time(); haveBefore && ok {
			lo, hi = minTime(bt, at), maxTime(bt, at)
		} else {
			oneSided = true // no reading before ours: no lower bound
		}
		slack := time.Duration(rule.Abs * float64(time.Second))
		if (!oneSided && ot.Before(lo.Add(-slack))) || ot.After(hi.Add(slack)) {
			return false, fmt.Sprintf("more than %s outside the kubelet's", slack)
		}
		return true, ""
	case Counter, Gauge:
		ov, ok1 := o.float()
		av, ok2 := after.float()
		if !ok1 || !ok2 {
			return false, "not a number"
		}
		scale := 1.0
		if rule.Scale != 0 {
			scale = rule.Scale
		}
		lo, hi := av*scale, av*scale
		if bv, ok := before.float(); haveBefore && ok {
			lo, hi = math.Min(bv, av)*scale, math.Max(bv, av)*scale
		} else if rule.Kind == Counter {
			lo = math.Inf(-1) // no reading before ours: no lower bound
		}
		lo = lo - math.Abs(lo)*rule.Rel - rule.Abs
		hi = hi + math.Abs(hi)*rule.Rel + rule.Abs
		if ov < lo || ov > hi {
			return false, fmt.Sprintf("outside [%.6g, %.6g]", lo, hi)
		}
		return true, ""
	}
	return false, "unknown rule kind " + string(kind)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
