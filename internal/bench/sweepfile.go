package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// Files a sweep writes in its OutDir, beside the runs' folders.
const (
	SweepJSON = "sweep.json"
	SweepHTML = "sweep.html"
)

// SweepSchema is SweepFile.Schema: the name and major version of sweep.json's layout.
const SweepSchema = "chaoslab.sweep/v1"

// SweepDefinitions defines every figure of a sweep's table, plot and sweep.json, for --help
// and sweep.html alike.
const SweepDefinitions = `Every figure is read from the runs' own analyses (each run's summary.json, the same numbers
as its report), never recomputed:
  stuck           goodput.stuck: the goodput (per second, the load's requests the backend answered
                  200 within the load's timeout, each in the second of its scheduled arrival) was
                  below 50 % of its mean level before the trigger in each of the first --stuck-for
                  (30 s) whole seconds after the trigger's end
  P(stuck)        stuck runs / measured runs of the cell (trigger x profile); "stuck" shows both
  not measured    runs whose stuck was not measured (too few seconds after the trigger, no level
                  before it), in which the lab saw a problem (a service died, Ctrl-C), or that the
                  lab could not make (failed): counted and shown, never folded into P(stuck);
                  sweep.json says why for each
  back to 95 %    the measured runs whose goodput came back within the run / measured runs:
                  goodput.back_to_95_ms, from the trigger's end to the start of the first
                  --back-hold (5 s) in a row each at least 95 % of the level before
  back median/max the median and the largest of those times, over the runs that came back
  calls/req after the backend's calls per user request offered after the trigger's end (the
                  layers' backend row, "after": counted from the tiers' records joined by request
                  id): median [max] over the measured runs
  answered after  the share of the user requests offered after the trigger's end answered 200,
                  by the backend or a fallback (phases.after.answered_200): median over the
                  measured runs
  tipping point   for each profile, the smallest trigger of the sweep (by factor, then duration)
                  whose P(stuck) is at least 0.5; none when no trigger reaches it`

// SweepFile is sweep.json: the settings, each profile's tipping point, every cell and every run.
// Durations are milliseconds (*_ms), shares fractions from 0 to 1, null not measured.
type SweepFile struct {
	Schema   string          `json:"schema"` // SweepSchema
	Settings SweepSettings   `json:"settings"`
	Complete bool            `json:"complete"` // every planned run was made (false: the sweep was stopped)
	Tipping  []SweepTipping  `json:"tipping"`  // one per profile, in the profiles' order
	Cells    []SweepCellJSON `json:"cells"`    // triggers first, in the axis' order, then profiles
	Runs     []SweepRunJSON  `json:"runs"`     // in the order they were planned
}

// SweepSettings are what the sweep ran.
type SweepSettings struct {
	Experiment string             `json:"experiment"` // the catalogue entry
	Triggers   []SweepTriggerJSON `json:"triggers"`
	Profiles   []string           `json:"profiles"`
	Seeds      int                `json:"seeds"`      // runs per cell
	FirstSeed  int64              `json:"first_seed"` // seeds first_seed ... first_seed+seeds-1: RETRY_JITTER_SEED and BACKEND_SEED
	RPS        float64            `json:"rps"`
	WarmupMS   float64            `json:"warmup_ms"`
	WatchMS    float64            `json:"watch_ms"` // watch_duration: load after the trigger's end before the steady state is checked
	RecoveryMS float64            `json:"recovery_ms"`
	StuckBelow float64            `json:"stuck_below"`  // 0.5
	StuckForMS float64            `json:"stuck_for_ms"` // the stuck window in force
	BackAt     float64            `json:"back_at"`      // 0.95
	BackHoldMS float64            `json:"back_hold_ms"` // the back window in force
	Parallel   int                `json:"parallel"`
	ClientEnv  map[string]string  `json:"client_env"` // --env, for every profile
	Start      time.Time          `json:"start"`
	End        time.Time          `json:"end"`
}

// SweepTriggerJSON is one trigger.
type SweepTriggerJSON struct {
	Label      string  `json:"label"`               // "4x for 10s"
	Factor     float64 `json:"service_time_factor"` // the backend's service time times this
	DurationMS float64 `json:"fault_duration_ms"`   // for this long
}

// SweepTipping is a profile's tipping point: the smallest trigger with P(stuck) >= 0.5.
type SweepTipping struct {
	Profile string            `json:"profile"`
	Trigger *SweepTriggerJSON `json:"trigger"` // null: no trigger of the sweep tips it
}

// SweepCellJSON is one cell (Cell).
type SweepCellJSON struct {
	Trigger             SweepTriggerJSON `json:"trigger"`
	Profile             string           `json:"profile"`
	Runs                int              `json:"runs"`
	Failed              int              `json:"failed"`
	NotMeasured         int              `json:"not_measured"` // made, stuck not measured (failed ones apart)
	Measured            int              `json:"measured"`
	Stuck               int              `json:"stuck"`
	PStuck              *float64         `json:"p_stuck"` // stuck / measured; null without a measured run
	Tipped              bool             `json:"tipped"`  // p_stuck >= 0.5
	Back                int              `json:"back"`    // measured runs back to 95 % within the run
	BackMedianMS        *float64         `json:"back_median_ms"`
	BackMaxMS           *float64         `json:"back_max_ms"`
	CallsAfterMedian    *float64         `json:"calls_per_request_after_median"`
	CallsAfterMax       *float64         `json:"calls_per_request_after_max"`
	AnsweredAfterMedian *float64         `json:"answered_after_median"`
	NotMeasuredWhy      []string         `json:"not_measured_why"` // one per run not measured or failed
}

// SweepRunJSON is one run (SweepRun).
type SweepRunJSON struct {
	Trigger       string   `json:"trigger"` // its label
	Profile       string   `json:"profile"`
	Seed          int64    `json:"seed"`
	Dir           string   `json:"dir"` // its results folder, relative to sweep.json
	ElapsedMS     float64  `json:"elapsed_ms"`
	Failed        string   `json:"failed"` // "" when it ran
	Measured      bool     `json:"measured"`
	NotMeasured   string   `json:"not_measured"`
	Stuck         *bool    `json:"stuck"` // null: not measured
	BackTo95MS    *float64 `json:"back_to_95_ms"`
	BeforePerS    *float64 `json:"before_per_s"`
	CallsAfter    *float64 `json:"calls_per_request_after"`
	AnsweredAfter *float64 `json:"answered_after"`
}

func triggerJSON(t Trigger) SweepTriggerJSON {
	return SweepTriggerJSON{Label: t.String(), Factor: t.Factor, DurationMS: results.MS(t.Duration)}
}

func optMS(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	v := results.MS(*d)
	return &v
}

// windows are the goodput's thresholds in force for the sweep's runs (report.RunGoodputParams).
func (c SweepConfig) windows() report.GoodputParams {
	return report.RunGoodputParams(results.RunInfo{GoodputStuckFor: results.Duration(c.StuckFor), GoodputBackHold: results.Duration(c.BackHold)})
}

// File is sw as sweep.json holds it.
func (sw *Sweep) File() SweepFile {
	cfg, w := sw.Config, sw.Config.windows()
	f := SweepFile{Schema: SweepSchema, Complete: len(sw.Runs) == cfg.Total(),
		Settings: SweepSettings{Experiment: Metastable, Seeds: cfg.Seeds, FirstSeed: cfg.FirstSeed, RPS: cfg.RPS,
			WarmupMS: results.MS(cfg.Warmup), WatchMS: results.MS(cfg.Watch), RecoveryMS: results.MS(cfg.Recovery),
			StuckBelow: w.StuckBelow, StuckForMS: results.MS(w.StuckFor), BackAt: w.BackAt, BackHoldMS: results.MS(w.BackHold),
			Parallel: cfg.Parallel, ClientEnv: cfg.ClientEnv, Start: sw.Start.UTC(), End: sw.End.UTC()},
		Tipping: []SweepTipping{}, Cells: []SweepCellJSON{}, Runs: []SweepRunJSON{}}
	if f.Settings.ClientEnv == nil {
		f.Settings.ClientEnv = map[string]string{}
	}
	for _, t := range cfg.Triggers {
		f.Settings.Triggers = append(f.Settings.Triggers, triggerJSON(t))
	}
	for _, p := range cfg.Profiles {
		f.Settings.Profiles = append(f.Settings.Profiles, p.String())
		tp := SweepTipping{Profile: p.String()}
		if t := Tipping(sw.Cells, p); t != nil {
			j := triggerJSON(*t)
			tp.Trigger = &j
		}
		f.Tipping = append(f.Tipping, tp)
	}
	for _, c := range sw.Cells {
		j := SweepCellJSON{Trigger: triggerJSON(c.Trigger), Profile: c.Profile.String(), Runs: c.Runs, Failed: c.Failed,
			NotMeasured: c.NotMeasured, Measured: c.Measured, Stuck: c.Stuck, Tipped: c.Tipped(), Back: c.Back,
			BackMedianMS: optMS(c.BackMedian), BackMaxMS: optMS(c.BackMax), CallsAfterMedian: c.CallsMedian,
			CallsAfterMax: c.CallsMax, AnsweredAfterMedian: c.AnsweredMedian, NotMeasuredWhy: append([]string{}, c.NotMeasuredWhy...)}
		if p, ok := c.PStuck(); ok {
			j.PStuck = &p
		}
		f.Cells = append(f.Cells, j)
	}
	for _, r := range sw.Runs {
		j := SweepRunJSON{Trigger: r.Trigger.String(), Profile: r.Profile.String(), Seed: r.Seed, Dir: filepath.ToSlash(r.Dir),
			ElapsedMS: results.MS(r.Elapsed), Failed: r.Failed, Measured: r.Measured, NotMeasured: r.NotMeasured,
			BackTo95MS: optMS(r.BackTo95), BeforePerS: r.BeforePerS, CallsAfter: r.CallsAfter, AnsweredAfter: r.AnsweredAfter}
		if r.Measured {
			stuck := r.Stuck
			j.Stuck = &stuck
		}
		f.Runs = append(f.Runs, j)
	}
	return f
}

// Write writes sweep.json and sweep.html into the sweep's OutDir.
func (sw *Sweep) Write() error {
	f := sw.File()
	if err := results.WriteJSONFile(filepath.Join(sw.Config.OutDir, SweepJSON), f); err != nil {
		return fmt.Errorf("write %s: %w", SweepJSON, err)
	}
	out, err := os.Create(filepath.Join(sw.Config.OutDir, SweepHTML))
	if err != nil {
		return fmt.Errorf("create %s: %w", SweepHTML, err)
	}
	if err := writeSweepHTML(out, sw, f); err != nil {
		out.Close()
		return fmt.Errorf("write %s: %w", SweepHTML, err)
	}
	return out.Close()
}
