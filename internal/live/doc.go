// Package live serves a page on 127.0.0.1 that shows a chaoslab run as it happens: the
// latency timeline of report.html filling in, the fault window, the breaker band and its
// current state, the phase, the counters, the experiment's activities and the last retry,
// breaker and fallback log lines; with Actions (chaoslab up --ui), buttons that apply and
// remove each fault of the catalogue and send a short load.
//
// A Hub collects what the run reports (Info, Event, Record, Done) and never blocks its callers.
// The Server streams it to each viewer with server-sent events: first a "snapshot" of the whole
// state, then "event", "record", "chart", "counters" and "done" messages. The chart is not drawn
// in the browser: the hub renders it with internal/report's own chart code (report.Analyze of
// the run so far, then report.ChartSVG), at most every 500 ms while data changes and only while
// someone watches, and the page swaps the SVG in. When the backend has a capacity model the
// lab hands its samples over too (Capacity), and the page shows report.html's second chart under
// the timeline: the goodput, the backend's queue, rejections and wasted work, and every tier's
// breaker (report.CapacityChartSVG). The counters are the report's too (the
// analysis's totals), so the page and report.html cannot disagree.
//
// A slow or vanished viewer never slows the run: each viewer has a bounded queue, and a viewer
// whose queue is full is dropped (its stream ends); the browser's EventSource reconnects and
// gets a fresh snapshot. The page is self-contained (no network fetch but its own server) and
// shows every text that comes from the run as text, never as markup.
package live
