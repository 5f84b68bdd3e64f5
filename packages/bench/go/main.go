// The Go peer for the benchmarks: faktory_worker_go running the same scenarios as the
// Node runners, reporting one JSON line. Run by the bench harness with FAKTORY_URL set.
//
//	go run . '{"scenario":"process","count":20000,"concurrency":10,"queue":"bench"}'
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	faktory "github.com/contribsys/faktory/client"
	worker "github.com/contribsys/faktory_worker_go"
)

type params struct {
	Scenario    string  `json:"scenario"`
	Count       int     `json:"count"`
	Concurrency int     `json:"concurrency"`
	Queue       string  `json:"queue"`
	Rate        float64 `json:"rate"`
}

type result struct {
	JobsPerSecond float64  `json:"jobsPerSecond"`
	Seconds       float64  `json:"seconds"`
	CPUSeconds    float64  `json:"cpuSeconds"`
	UserCPU       float64  `json:"userCpuSeconds"`
	PeakRssKb     int64    `json:"peakRssKb"`
	P50Ms         *float64 `json:"p50Ms,omitempty"`
	P99Ms         *float64 `json:"p99Ms,omitempty"`
}

func nowMs() float64 { return float64(time.Now().UnixNano()) / 1e6 }

// usage returns CPU seconds (user and kernel), user CPU seconds and peak RSS in KB.
func usage() (float64, float64, int64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	user := float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6
	return user + float64(ru.Stime.Sec) + float64(ru.Stime.Usec)/1e6, user, ru.Maxrss // KB on Linux
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	index := int(float64(len(sorted)-1) * p)
	return sorted[index]
}

func main() {
	var p params
	if err := json.Unmarshal([]byte(os.Args[1]), &p); err != nil {
		fmt.Fprintln(os.Stderr, "bad parameters:", err)
		os.Exit(2)
	}
	mgr := worker.NewManager()
	mgr.Concurrency = p.Concurrency
	mgr.ProcessStrictPriorityQueues(p.Queue)
	mgr.Logger = quiet{}

	var done atomic.Int64
	finished := make(chan struct{})
	// The rate counts from the first job, as every runner's does (Scenario.ts's startClock):
	// this library delays each processor's first FETCH by a random 0 to 2.1 s.
	var firstJob sync.Once
	var firstAt time.Time
	var latencies []float64
	var mu sync.Mutex
	mgr.Register("Noop", func(ctx context.Context, args ...interface{}) error {
		firstJob.Do(func() { firstAt = time.Now() })
		if p.Scenario == "latency" {
			if sent, ok := args[0].(float64); ok {
				mu.Lock()
				latencies = append(latencies, nowMs()-sent)
				mu.Unlock()
			}
		}
		if done.Add(1) == int64(p.Count) {
			close(finished)
		}
		return nil
	})

	ctx, cancel := context.WithCancel(context.Background())
	cpuBefore, userBefore, _ := usage()
	started := time.Now()
	go func() { _ = mgr.RunWithContext(ctx) }()

	if p.Scenario == "latency" {
		// Every runner lets its worker start before the first push (see Scenario.ts's
		// LATENCY_SETTLE_MILLIS): faktory_worker_go delays each processor's first FETCH by a
		// random 0 to 2.1 s, and jobs pushed before one fetched waited for it.
		time.Sleep(2500 * time.Millisecond)
		client, err := faktory.Open()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		interval := time.Duration(float64(time.Second) / p.Rate)
		for i := 0; i < p.Count; i++ {
			job := faktory.NewJob("Noop", nowMs())
			job.Queue = p.Queue
			if err := client.Push(job); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			time.Sleep(interval)
		}
	}

	select {
	case <-finished:
	case <-time.After(10 * time.Minute):
		fmt.Fprintln(os.Stderr, "timed out")
		os.Exit(1)
	}
	if p.Scenario == "latency" {
		// Its rate is the pushing's; the latency scenario's clock starts with the worker's.
		firstAt = started
	}
	elapsed := time.Since(firstAt).Seconds()
	cpuAfter, userAfter, peak := usage()
	cancel()
	// Give the manager a moment to ACK the last jobs and END.
	time.Sleep(200 * time.Millisecond)

	out := result{
		JobsPerSecond: float64(p.Count) / elapsed,
		Seconds:       elapsed,
		CPUSeconds:    cpuAfter - cpuBefore,
		UserCPU:       userAfter - userBefore,
		PeakRssKb:     peak,
	}
	if p.Scenario == "latency" {
		sort.Float64s(latencies)
		p50, p99 := percentile(latencies, 0.5), percentile(latencies, 0.99)
		out.P50Ms, out.P99Ms = &p50, &p99
	}
	encoded, _ := json.Marshal(out)
	fmt.Println(string(encoded))
	os.Exit(0)
}

type quiet struct{}

func (quiet) Debug(v ...interface{})                 {}
func (quiet) Debugf(format string, v ...interface{}) {}
func (quiet) Info(v ...interface{})                  {}
func (quiet) Infof(format string, v ...interface{})  {}
func (quiet) Warn(v ...interface{})                  {}
func (quiet) Warnf(format string, v ...interface{})  {}
func (quiet) Error(v ...interface{})                 { fmt.Fprintln(os.Stderr, v...) }
func (quiet) Errorf(format string, v ...interface{}) { fmt.Fprintf(os.Stderr, format+"\n", v...) }
func (quiet) Fatal(v ...interface{})                 { fmt.Fprintln(os.Stderr, v...); os.Exit(1) }
func (quiet) Fatalf(format string, v ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", v...)
	os.Exit(1)
}
