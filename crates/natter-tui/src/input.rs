//! The multi-line input line of the chat screen: a small text editor.

/// Lines of text and a cursor (row, column in characters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    lines: Vec<String>,
    row: usize,
    col: usize,
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

    pub fn insert(&mut self, c: char) {
        self.ensure_line();
        let line = &mut self.lines[self.row];
        let at = Self::byte_at(line, self.col);
        line.insert(at, c);
        self.col += 1;
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
            let line = &mut self.lines[self.row];
            let at = Self::byte_at(line, self.col - 1);
            line.remove(at);
            self.col -= 1;
        } else if self.row > 0 {
            let line = self.lines.remove(self.row);
            self.row -= 1;
            self.col = self.line_len(self.row);
            self.lines[self.row].push_str(&line);
        }
    }

    pub fn left(&mut self) {
        if self.col > 0 {
            self.col -= 1;
        } else if self.row > 0 {
            self.row -= 1;
            self.col = self.line_len(self.row);
        }
    }

    pub fn right(&mut self) {
        if self.col < self.line_len(self.row) {
            self.col += 1;
        } else if self.row + 1 < self.lines.len() {
            self.row += 1;
            self.col = 0;
        }
    }

    pub fn up(&mut self) {
        if self.row > 0 {
            self.row -= 1;
            self.col = self.col.min(self.line_len(self.row));
        }
    }

    pub fn down(&mut self) {
        if self.row + 1 < self.lines.len() {
            self.row += 1;
            self.col = self.col.min(self.line_len(self.row));
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
}
