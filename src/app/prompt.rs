//! The line typed after `/` or `:`, edited as a shell line: the cursor moves with the
//! arrows, Home/End and Ctrl-A/E; Ctrl-U, Ctrl-W and Ctrl-K cut to the start, the word
//! before, the end. The editing itself is tui-input's; this is the value the app keeps.

pub use tui_input::InputRequest as Edit;

/// A prompt's text and cursor.
#[derive(Debug, Clone, Default)]
pub struct Prompt(tui_input::Input);

impl Prompt {
    pub fn text(&self) -> &str {
        self.0.value()
    }

    /// The cursor, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.0.cursor()
    }

    pub fn edit(&mut self, edit: Edit) {
        self.0.handle(edit);
    }

    /// The text with the cursor at its end (after a completion, for one).
    pub fn replace(&mut self, text: String) {
        self.0 = tui_input::Input::new(text);
    }
}

impl From<String> for Prompt {
    fn from(text: String) -> Prompt {
        Prompt(tui_input::Input::new(text))
    }
}

impl From<&str> for Prompt {
    fn from(text: &str) -> Prompt {
        Prompt::from(text.to_string())
    }
}

/// Two prompts are the same when they hold the same text with the cursor at the same place.
impl PartialEq for Prompt {
    fn eq(&self, other: &Prompt) -> bool {
        self.text() == other.text() && self.cursor() == other.cursor()
    }
}

impl Eq for Prompt {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_like_a_shell_line() {
        let mut p = Prompt::from("site=north pump");
        p.edit(Edit::DeletePrevWord);
        assert_eq!(p.text(), "site=north ");
        p.edit(Edit::GoToStart);
        p.edit(Edit::InsertChar('!'));
        assert_eq!((p.text(), p.cursor()), ("!site=north ", 1));
        p.edit(Edit::GoToEnd);
        p.edit(Edit::InsertChar('x'));
        p.edit(Edit::GoToPrevChar);
        p.edit(Edit::DeleteFromStart);
        assert_eq!((p.text(), p.cursor()), ("x", 0));
        p.edit(Edit::DeleteTillEnd);
        assert_eq!(p.text(), "");
    }

    #[test]
    fn a_cut_in_the_filter_line_keeps_it_open_so_the_next_q_is_typed() {
        use crate::app::{App, Mode, keys::action_for};
        use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let state = crate::fleet::FleetState::new(
            crate::mapping::Mapper::new(&[]).unwrap_or_else(|e| panic!("{e}")),
            Default::default(),
            &[],
        );
        let mut app = App::new(crate::theme::Theme::monochrome(), false);
        let press = |app: &mut App, code, modifiers| {
            if let Some(a) = action_for(app, KeyEvent::new(code, modifiers)) {
                app.update(a, &state);
            }
        };
        press(&mut app, KeyCode::Char('/'), KeyModifiers::NONE);
        for c in "pump".chars() {
            press(&mut app, KeyCode::Char(c), KeyModifiers::NONE);
        }
        press(&mut app, KeyCode::Char('u'), KeyModifiers::CONTROL);
        press(&mut app, KeyCode::Char('q'), KeyModifiers::NONE);
        assert!(!app.quit, "q was typed into the line");
        assert_eq!(app.mode, Mode::Filter(Prompt::from("q")));
        press(&mut app, KeyCode::F(5), KeyModifiers::NONE);
        assert_eq!(
            app.mode,
            Mode::Filter(Prompt::from("q")),
            "unused keys do nothing"
        );
    }
}
