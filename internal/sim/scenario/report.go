package scenario

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// PrintResults writes the per-call table and, under it, what each failed
// scenario expected and what went wrong.
func PrintResults(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tCALL\tCALLER\tANSWER\tRESULT\tTOOK\tDETAIL")
	for _, r := range rs {
		status, detail := "ok", r.Detail
		switch {
		case !r.OK():
			status, detail = "FAIL", r.Err.Error()
		case r.Skipped != "":
			status, detail = "skip", r.Skipped
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.1fs\t%s\n", r.Scenario, dash(r.CallSID), dash(r.Caller), dash(r.Answer), status, r.Took.Seconds(), detail)
	}
	_ = tw.Flush()
	failed := 0
	for _, r := range rs {
		if !r.OK() {
			failed++
			fmt.Fprintf(w, "\n%s expected: %s\n  got: %v\n", r.Scenario, r.Expect, r.Err)
		}
	}
	skipped := 0
	for _, r := range rs {
		if r.Skipped != "" {
			skipped++
		}
	}
	if failed == 0 && skipped > 0 {
		fmt.Fprintf(w, "\n%d scenarios passed, %d skipped\n", len(rs)-skipped, skipped)
	} else if failed == 0 {
		fmt.Fprintf(w, "\nall %d scenarios passed\n", len(rs))
	} else {
		fmt.Fprintf(w, "\n%d of %d scenarios failed\n", failed, len(rs))
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
