//! natter-tui integration tests: the views rendered into ratatui's
//! `TestBackend`, and the chat loop driven with scripted keys against a real
//! in-process server.

mod live;
mod views;

use ratatui::buffer::Buffer;

/// The screen as text, one line per row.
pub fn screen(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        for x in 0..area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}
