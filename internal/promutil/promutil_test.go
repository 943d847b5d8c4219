package promutil

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegisterOrReuse(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "things_total", Help: "Things."}
	a, err := RegisterOrReuse(reg, "test", prometheus.NewCounter(opts))
	if err != nil {
		t.Fatal(err)
	}
	b, err := RegisterOrReuse(reg, "test", prometheus.NewCounter(opts))
	if err != nil || b != a {
		t.Errorf("a second equal collector: %v, %v; want the first one back", b, err)
	}
	_, err = RegisterOrReuse(reg, "test", prometheus.NewGauge(prometheus.GaugeOpts{Name: "things_total", Help: "Other."}))
	if err == nil || !strings.Contains(err.Error(), "register test metrics") {
		t.Errorf("a clashing collector: %v, want an error naming what", err)
	}
}

func ExampleRegisterOrReuse() {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "jobs_total", Help: "Jobs run."}
	first, _ := RegisterOrReuse(reg, "jobs", prometheus.NewCounter(opts))
	second, _ := RegisterOrReuse(reg, "jobs", prometheus.NewCounter(opts))
	first.Inc()
	second.Inc()
	fmt.Println(first == second)
	// Output: true
}
