//! `gateway-zero admin tui`: a live terminal dashboard over the admin API — request rate
//! and errors, latency, key health per provider, top tokens by spend, recent calls.
//! `data.rs` reads a snapshot, `view.rs` draws it. Tab / arrow keys move between panes
//! (↑↓ scroll the focused list with PgUp/PgDn), `q` quits and restores the terminal. When
//! the gateway goes away the last snapshot stays on screen with the reason, and it retries.

mod data;
mod view;

use std::io::{self, Stdout};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use crate::cli::http::Http;
use data::Snapshot;

pub struct App {
    url: String,
    refresh: Duration,
    snapshot: Option<Snapshot>,
    error: Option<String>,
    /// The focused pane (index into `view::PANES`).
    focus: usize,
    /// Rows scrolled in each pane.
    scroll: [usize; 5],
}

impl App {
    fn scroll_of(&self, pane: usize) -> usize {
        self.scroll[pane]
    }

    /// Handles a key; false to quit.
    fn key(&mut self, code: KeyCode, modifiers: KeyModifiers) -> bool {
        let n = view::PANES.len();
        match code {
            KeyCode::Char('q') | KeyCode::Esc => return false,
            KeyCode::Char('c') if modifiers.contains(KeyModifiers::CONTROL) => return false,
            KeyCode::Tab | KeyCode::Right => self.focus = (self.focus + 1) % n,
            KeyCode::BackTab | KeyCode::Left => self.focus = (self.focus + n - 1) % n,
            KeyCode::Down => self.focus = (self.focus + 2).min(n - 1),
            KeyCode::Up => self.focus = self.focus.saturating_sub(2),
            KeyCode::PageDown => self.scroll[self.focus] += 5,
            KeyCode::PageUp => self.scroll[self.focus] = self.scroll[self.focus].saturating_sub(5),
            _ => {}
        }
        true
    }
}

/// Restores the terminal however the dashboard ends (also on a panic).
struct Screen(Terminal<CrosstermBackend<Stdout>>);

impl Screen {
    fn open() -> io::Result<Screen> {
        enable_raw_mode()?;
        let mut out = io::stdout();
        execute!(out, EnterAlternateScreen)?;
        Terminal::new(CrosstermBackend::new(out)).map(Screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = disable_raw_mode();
        let _ = execute!(self.0.backend_mut(), LeaveAlternateScreen);
        let _ = self.0.show_cursor();
    }
}

pub async fn run(http: Http, url: String, bearer: String, refresh: Duration) -> Result<(), String> {
    let mut screen = Screen::open().map_err(|e| format!("cannot open the terminal: {e}"))?;
    let mut app = App {
        url,
        refresh,
        snapshot: None,
        error: Some("connecting".into()),
        focus: 0,
        scroll: [0; 5],
    };
    let mut next_fetch = Instant::now();
    loop {
        if Instant::now() >= next_fetch {
            match data::fetch(&http, &app.url, &bearer).await {
                Ok(snapshot) => {
                    app.snapshot = Some(snapshot);
                    app.error = None;
                }
                Err(e) if e.starts_with("401") || e.starts_with("403") => {
                    drop(screen);
                    return Err(format!(
                        "{e}\n(the token is not an admin's, or the session ended: `gateway-zero admin login`)"
                    ));
                }
                Err(e) => app.error = Some(e),
            }
            next_fetch = Instant::now() + app.refresh;
        }
        screen
            .0
            .draw(|frame| view::draw(frame, &app))
            .map_err(|e| format!("cannot draw: {e}"))?;
        // Keys are read as they come; the screen refreshes at least every 250 ms.
        let wait =
            Duration::from_millis(250).min(next_fetch.saturating_duration_since(Instant::now()));
        if event::poll(wait).map_err(|e| e.to_string())? {
            match event::read().map_err(|e| e.to_string())? {
                Event::Key(k)
                    if k.kind != KeyEventKind::Release && !app.key(k.code, k.modifiers) =>
                {
                    return Ok(());
                }
                _ => {}
            }
        }
    }
}
