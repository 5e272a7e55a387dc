//! The multi-line input line of the chat screen: a small text editor.
//!
//! The cursor moves and deletes by grapheme cluster (what the user sees as
//! one character: `👨‍👩‍👧` or `e` + U+0301), so it never lands inside one.

use unicode_segmentation::UnicodeSegmentation;

/// Lines of text and a cursor (row, column in characters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    lines: Vec<String>,
    row: usize,
    col: usize,
}

/// The char offsets at which the grapheme clusters of `line` start, and its
/// length in chars at the end.
fn boundaries(line: &str) -> Vec<usize> {
    let mut at = 0;
    let mut out = vec![0];
    for g in line.graphemes(true) {
        at += g.chars().count();
        out.push(at);
    }
    out
}

impl Input {
    /// The lines, never fewer than one.
    pub fn lines(&self) -> Vec<&str> {
        if self.lines.is_empty() {
            vec![""]
        } else {
            self.lines.iter().map(String::as_str).collect()
        }
    }

    /// The cursor as (row, column in characters).
    pub fn cursor(&self) -> (usize, usize) {
        (self.row, self.col)
    }

    /// The whole text, lines joined with `\n`.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    pub fn is_blank(&self) -> bool {
        self.lines.iter().all(|l| l.trim().is_empty())
    }

    /// Empties the input and returns what it held.
    pub fn take(&mut self) -> String {
        let text = self.text();
        *self = Input::default();
        text
    }

    fn ensure_line(&mut self) {
        if self.lines.is_empty() {
            self.lines.push(String::new());
        }
    }

    fn byte_at(line: &str, col: usize) -> usize {
        line.char_indices().nth(col).map_or(line.len(), |(i, _)| i)
    }

    fn line_len(&self, row: usize) -> usize {
        self.lines.get(row).map_or(0, |l| l.chars().count())
    }

    /// The grapheme boundary before the cursor (or the cursor if at 0).
    fn prev_boundary(&self) -> usize {
        let line = self.lines.get(self.row).map_or("", String::as_str);
        boundaries(line)
            .into_iter()
            .rev()
            .find(|&b| b < self.col)
            .unwrap_or(0)
    }

    fn next_boundary(&self) -> usize {
        let line = self.lines.get(self.row).map_or("", String::as_str);
        boundaries(line)
            .into_iter()
            .find(|&b| b > self.col)
            .unwrap_or(self.col)
    }

    /// Puts the cursor on a grapheme boundary at or before it (after a move
    /// between lines of different shapes).
    fn snap(&mut self) {
        let line = self.lines.get(self.row).map_or("", String::as_str);
        self.col = boundaries(line)
            .into_iter()
            .rev()
            .find(|&b| b <= self.col)
            .unwrap_or(0);
    }

    pub fn insert(&mut self, c: char) {
        self.ensure_line();
        let line = &mut self.lines[self.row];
        let at = Self::byte_at(line, self.col);
        line.insert(at, c);
        self.col += 1;
    }

    /// Inserts a text of any number of lines (a paste): `\r\n` and `\r` end
    /// lines too, a tab becomes four spaces, and other control characters
    /// are dropped (they would drive the terminal when the input is drawn).
    pub fn insert_str(&mut self, text: &str) {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        for c in text.chars() {
            match c {
                '\n' => self.newline(),
                '\t' => (0..4).for_each(|_| self.insert(' ')),
                c if c.is_control() => {}
                c => self.insert(c),
            }
        }
    }

    pub fn newline(&mut self) {
        self.ensure_line();
        let line = &mut self.lines[self.row];
        let at = Self::byte_at(line, self.col);
        let rest = line.split_off(at);
        self.lines.insert(self.row + 1, rest);
        self.row += 1;
        self.col = 0;
    }

    pub fn backspace(&mut self) {
        self.ensure_line();
        if self.col > 0 {
            let from = self.prev_boundary();
            let line = &mut self.lines[self.row];
            let (start, end) = (Self::byte_at(line, from), Self::byte_at(line, self.col));
            line.replace_range(start..end, "");
            self.col = from;
        } else if self.row > 0 {
            let line = self.lines.remove(self.row);
            self.row -= 1;
            self.col = self.line_len(self.row);
            self.lines[self.row].push_str(&line);
        }
    }

    /// Deletes what is under the cursor (joining the next line at the end).
    pub fn delete(&mut self) {
        self.ensure_line();
        if self.col < self.line_len(self.row) {
            let to = self.next_boundary();
            let line = &mut self.lines[self.row];
            let (start, end) = (Self::byte_at(line, self.col), Self::byte_at(line, to));
            line.replace_range(start..end, "");
        } else if self.row + 1 < self.lines.len() {
            let next = self.lines.remove(self.row + 1);
            self.lines[self.row].push_str(&next);
        }
    }

    /// Deletes from the start of the line to the cursor.
    pub fn delete_to_start(&mut self) {
        self.ensure_line();
        let line = &mut self.lines[self.row];
        let at = Self::byte_at(line, self.col);
        line.replace_range(..at, "");
        self.col = 0;
    }

    pub fn left(&mut self) {
        if self.col > 0 {
            self.col = self.prev_boundary();
        } else if self.row > 0 {
            self.row -= 1;
            self.col = self.line_len(self.row);
        }
    }

    pub fn right(&mut self) {
        if self.col < self.line_len(self.row) {
            self.col = self.next_boundary();
        } else if self.row + 1 < self.lines.len() {
            self.row += 1;
            self.col = 0;
        }
    }

    pub fn up(&mut self) {
        if self.row > 0 {
            self.row -= 1;
            self.col = self.col.min(self.line_len(self.row));
            self.snap();
        }
    }

    pub fn down(&mut self) {
        if self.row + 1 < self.lines.len() {
            self.row += 1;
            self.col = self.col.min(self.line_len(self.row));
            self.snap();
        }
    }

    pub fn home(&mut self) {
        self.col = 0;
    }

    pub fn end(&mut self) {
        self.col = self.line_len(self.row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editing_across_lines() {
        let mut input = Input::default();
        for c in "héllo".chars() {
            input.insert(c);
        }
        input.left();
        input.left();
        input.newline();
        assert_eq!(input.text(), "hél\nlo");
        assert_eq!(input.cursor(), (1, 0));
        input.backspace();
        assert_eq!(input.text(), "héllo");
        assert_eq!(input.cursor(), (0, 3));
        input.end();
        input.newline();
        input.insert('!');
        input.up();
        input.backspace();
        assert_eq!(input.lines(), vec!["éllo", "!"]);
        assert_eq!(input.take(), "éllo\n!");
        assert!(input.is_blank());
    }

    #[test]
    fn the_cursor_steps_over_whole_grapheme_clusters() {
        let family = "👨\u{200d}👩\u{200d}👧";
        let mut input = Input::default();
        input.insert_str(&format!("a{family}e\u{301}"));
        input.left();
        assert_eq!(input.cursor(), (0, 6));
        input.left();
        assert_eq!(input.cursor(), (0, 1));
        input.right();
        assert_eq!(input.cursor(), (0, 6));
        input.backspace();
        assert_eq!(input.text(), "ae\u{301}");
        input.delete();
        assert_eq!(input.text(), "a");
    }

    #[test]
    fn pastes_keep_their_lines_and_lose_their_controls() {
        let mut input = Input::default();
        input.insert_str("one\r\ntwo\rthree\n\u{1b}[31mred\u{7}\tend");
        assert_eq!(input.lines(), vec!["one", "two", "three", "[31mred    end"]);
        assert_eq!(input.cursor(), (3, 14));
    }
}
