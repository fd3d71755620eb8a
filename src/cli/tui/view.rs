//! Drawing one frame: traffic and latency sparklines, key health, top tokens, recent calls;
//! the focused pane is outlined. A terminal smaller than the layout gets a one-pane summary.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Sparkline, Table, Wrap};
use ratatui::Frame;

use super::data::Snapshot;
use super::App;

/// The panes, in focus order.
pub const PANES: [&str; 5] = ["Traffic", "Latency", "Keys", "Top tokens", "Recent calls"];
/// Below this the full layout does not fit.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

fn block(app: &App, pane: usize) -> Block<'static> {
    let focused = app.focus == pane;
    let style = if focused {
        Style::default()
            .fg(Color::Cyan)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::default().fg(Color::DarkGray)
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(Span::styled(
            format!(" {}{} ", if focused { "▸ " } else { "" }, PANES[pane]),
            style,
        ))
}

fn status_line(app: &App) -> Line<'static> {
    let mut spans = vec![Span::styled(
        " Gateway Zero ",
        Style::default()
            .fg(Color::Black)
            .bg(Color::Cyan)
            .add_modifier(Modifier::BOLD),
    )];
    spans.push(Span::raw(format!(" {} ", app.url)));
    match &app.error {
        Some(e) => spans.push(Span::styled(
            format!(
                " retrying every {} s: {} ",
                app.refresh.as_secs(),
                crate::core::text::truncate(e, 90)
            ),
            Style::default().fg(Color::White).bg(Color::Red),
        )),
        None => spans.push(Span::styled(
            format!(" live, every {} s ", app.refresh.as_secs()),
            Style::default().fg(Color::Green),
        )),
    }
    spans.push(Span::styled(
        "  tab/←→↑↓ move · q quit",
        Style::default().fg(Color::DarkGray),
    ));
    Line::from(spans)
}

fn num(v: &serde_json::Value) -> String {
    v.as_i64().map_or("—".into(), |n| n.to_string())
}

fn ms(v: &serde_json::Value) -> String {
    v.as_f64().map_or("—".into(), |n| format!("{n:.1} ms"))
}

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let snap = app.snapshot.clone().unwrap_or_default();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return small(frame, app, &snap, area);
    }
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Length(8),
            Constraint::Min(6),
            Constraint::Length(12),
        ])
        .split(area);
    frame.render_widget(Paragraph::new(status_line(app)), rows[0]);
    let top = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(55), Constraint::Percentage(45)])
        .split(rows[1]);
    traffic(frame, app, &snap, top[0]);
    latency(frame, app, &snap, top[1]);
    let middle = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(60), Constraint::Percentage(40)])
        .split(rows[2]);
    keys(frame, app, &snap, middle[0]);
    tokens(frame, app, &snap, middle[1]);
    recent(frame, app, &snap, rows[3]);
}

fn traffic(frame: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let s = &snap.summary;
    let inner = block(app, 0).inner(area);
    frame.render_widget(block(app, 0), area);
    let parts = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(2),
            Constraint::Length(1),
        ])
        .split(inner);
    let rate = snap.requests.iter().rev().take(2).sum::<u64>() as f64 / 2.0;
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                format!("{rate:.1}/min"),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(
                "  last hour: {} calls, {} errors ({:.1} %), ${:.4}",
                num(&s["requests"]),
                num(&s["errors"]),
                s["error_rate"].as_f64().unwrap_or(0.0) * 100.0,
                s["amount"].as_f64().unwrap_or(0.0)
            )),
        ])),
        parts[0],
    );
    frame.render_widget(
        Sparkline::default()
            .data(&snap.requests)
            .style(Style::default().fg(Color::Cyan)),
        parts[1],
    );
    frame.render_widget(
        Sparkline::default()
            .data(&snap.errors)
            .style(Style::default().fg(Color::Red)),
        parts[2],
    );
}

fn latency(frame: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let s = &snap.summary;
    let inner = block(app, 1).inner(area);
    frame.render_widget(block(app, 1), area);
    let parts = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Length(1), Constraint::Min(1)])
        .split(inner);
    frame.render_widget(
        Paragraph::new(format!(
            "p95 {}  avg {}  first token {}",
            ms(&s["p95_latency_ms"]),
            ms(&s["avg_latency_ms"]),
            ms(&s["avg_first_token_ms"])
        )),
        parts[0],
    );
    frame.render_widget(
        Sparkline::default()
            .data(&snap.p95)
            .style(Style::default().fg(Color::Yellow)),
        parts[1],
    );
}

fn keys(frame: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let rows = snap.keys.iter().skip(app.scroll_of(2)).map(|k| {
        let color = if k.healthy {
            Color::Green
        } else {
            Color::Yellow
        };
        Row::new(vec![
            Cell::from(k.provider.clone()),
            Cell::from(k.masked.clone()),
            Cell::from(k.state.clone()).style(Style::default().fg(color)),
            Cell::from(k.failures.to_string()),
            Cell::from(k.last_error.clone()),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Length(12),
            Constraint::Length(20),
            Constraint::Length(6),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new(["provider", "key", "health", "fails", "last error"])
            .style(Style::default().fg(Color::DarkGray)),
    )
    .block(block(app, 2));
    frame.render_widget(table, area);
}

fn tokens(frame: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let rows = snap
        .top_tokens
        .iter()
        .skip(app.scroll_of(3))
        .map(|(name, n, usd)| {
            Row::new(vec![
                Cell::from(crate::core::text::printable(name).into_owned()),
                Cell::from(n.to_string()),
                Cell::from(format!("${usd:.4}")),
            ])
        });
    let table = Table::new(
        rows,
        [
            Constraint::Min(10),
            Constraint::Length(8),
            Constraint::Length(12),
        ],
    )
    .header(Row::new(["token", "calls", "spend (1 h)"]).style(Style::default().fg(Color::DarkGray)))
    .block(block(app, 3));
    frame.render_widget(table, area);
}

fn recent(frame: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let rows = snap.recent.iter().skip(app.scroll_of(4)).map(|l| {
        let ok = l["status"] == "success";
        let text = |k: &str| l[k].as_str().unwrap_or("—").to_string();
        Row::new(vec![
            Cell::from(text("created_at").get(11..19).unwrap_or("").to_string()),
            Cell::from(l["status_code"].to_string()).style(Style::default().fg(if ok {
                Color::Green
            } else {
                Color::Red
            })),
            Cell::from(text("endpoint")),
            Cell::from(
                l["model"]
                    .as_str()
                    .or(l["requested_model"].as_str())
                    .unwrap_or("—")
                    .to_string(),
            ),
            Cell::from(text("provider")),
            Cell::from(l["total_tokens"].to_string()),
            Cell::from(format!("{} ms", l["latency_ms"])),
            Cell::from(l["error_message"].as_str().unwrap_or("").to_string()),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Length(4),
            Constraint::Length(17),
            Constraint::Length(18),
            Constraint::Length(10),
            Constraint::Length(7),
            Constraint::Length(9),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new([
            "time", "code", "endpoint", "model", "provider", "tokens", "latency", "error",
        ])
        .style(Style::default().fg(Color::DarkGray)),
    )
    .block(block(app, 4));
    frame.render_widget(table, area);
}

/// A terminal too small for the panes: the essentials as text.
fn small(frame: &mut Frame, app: &App, snap: &Snapshot, area: Rect) {
    let s = &snap.summary;
    let unhealthy = snap.keys.iter().filter(|k| !k.healthy).count();
    let text = vec![
        status_line(app),
        Line::raw(format!(
            "terminal {}x{}: {MIN_WIDTH}x{MIN_HEIGHT} shows every pane",
            area.width, area.height
        )),
        Line::raw(format!(
            "last hour: {} calls, {} errors, p95 {}",
            num(&s["requests"]),
            num(&s["errors"]),
            ms(&s["p95_latency_ms"])
        )),
        Line::raw(format!(
            "keys: {} of {} need attention",
            unhealthy,
            snap.keys.len()
        )),
    ];
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
}
