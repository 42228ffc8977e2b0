//! Themes are data: `themes/*.toml`, one colour per role. The four shipped themes are
//! built in; files in `~/.config/fleetop/themes/` add or override them. With `NO_COLOR`
//! set, a monochrome theme uses bold, reverse and underline instead of colour.

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

const BUILT_IN: [(&str, &str); 4] = [
    ("default", include_str!("../themes/default.toml")),
    ("dark", include_str!("../themes/dark.toml")),
    ("light", include_str!("../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../themes/high-contrast.toml"),
    ),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    text: String,
    dim: String,
    accent: String,
    header: String,
    border: String,
    ok: String,
    warn: String,
    crit: String,
    stale: String,
    offline: String,
    unknown: String,
    selection_fg: String,
    selection_bg: String,
}

/// Styles by role.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub text: Style,
    pub dim: Style,
    pub accent: Style,
    pub header: Style,
    pub border: Style,
    pub ok: Style,
    pub warn: Style,
    pub crit: Style,
    pub stale: Style,
    pub offline: Style,
    pub unknown: Style,
    pub selection: Style,
}

impl Theme {
    /// A theme by name: user files first, then the built-in ones.
    pub fn load(name: &str) -> Result<Theme, String> {
        if name == "mono" || name == "monochrome" {
            return Ok(Theme::monochrome());
        }
        if let Some(dir) = user_dir() {
            let path = dir.join(format!("{name}.toml"));
            if let Ok(text) = std::fs::read_to_string(&path) {
                return Theme::parse(&text).map_err(|e| format!("{}: {e}", path.display()));
            }
        }
        match BUILT_IN.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => Theme::parse(text),
            None => Err(format!(
                "no theme `{name}`; built in: {}, mono (or add {name}.toml to ~/.config/fleetop/themes/)",
                Theme::names().join(", ")
            )),
        }
    }

    /// The theme to start with: monochrome under `NO_COLOR`, else `name`.
    pub fn initial(name: Option<&str>, slow_link: bool) -> Result<Theme, String> {
        if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return Ok(Theme::monochrome());
        }
        // A slow link gets the ANSI-16 theme: short escape sequences.
        let name = name.unwrap_or("default");
        let name = if slow_link { "default" } else { name };
        Theme::load(name)
    }

    pub fn names() -> Vec<&'static str> {
        BUILT_IN.iter().map(|(n, _)| *n).chain(["mono"]).collect()
    }

    pub fn parse(text: &str) -> Result<Theme, String> {
        let f: ThemeFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let c = |role: &str, v: &str| -> Result<Color, String> {
            v.parse::<Color>().map_err(|_| {
                format!("{role} = `{v}` is not a colour (a name like `red`, or `#rrggbb`)")
            })
        };
        let fg = |role: &str, v: &str| c(role, v).map(|col| Style::new().fg(col));
        Ok(Theme {
            name: f.name.clone(),
            text: fg("text", &f.text)?,
            dim: fg("dim", &f.dim)?,
            accent: fg("accent", &f.accent)?.add_modifier(Modifier::BOLD),
            header: fg("header", &f.header)?.add_modifier(Modifier::BOLD),
            border: fg("border", &f.border)?,
            ok: fg("ok", &f.ok)?,
            warn: fg("warn", &f.warn)?,
            crit: fg("crit", &f.crit)?.add_modifier(Modifier::BOLD),
            stale: fg("stale", &f.stale)?,
            offline: fg("offline", &f.offline)?.add_modifier(Modifier::BOLD),
            unknown: fg("unknown", &f.unknown)?,
            selection: Style::new()
                .fg(c("selection_fg", &f.selection_fg)?)
                .bg(c("selection_bg", &f.selection_bg)?),
        })
    }

    /// No colour at all: emphasis by bold, reverse and underline (for `NO_COLOR`).
    pub fn monochrome() -> Theme {
        let plain = Style::new();
        Theme {
            name: "mono".into(),
            text: plain,
            dim: plain.add_modifier(Modifier::DIM),
            accent: plain.add_modifier(Modifier::BOLD),
            header: plain.add_modifier(Modifier::BOLD),
            border: plain,
            ok: plain,
            warn: plain.add_modifier(Modifier::UNDERLINED),
            crit: plain.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            stale: plain.add_modifier(Modifier::UNDERLINED),
            offline: plain.add_modifier(Modifier::BOLD),
            unknown: plain.add_modifier(Modifier::DIM),
            selection: plain.add_modifier(Modifier::REVERSED),
        }
    }
}

fn user_dir() -> Option<std::path::PathBuf> {
    directories::ProjectDirs::from("", "", "fleetop").map(|d| d.config_dir().join("themes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_theme_loads() {
        for (name, text) in BUILT_IN {
            let t = Theme::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(t.name, name);
        }
    }

    #[test]
    fn bad_colours_and_names_are_explained() {
        let bad = BUILT_IN[0].1.replace("\"green\"", "\"grean\"");
        assert!(Theme::parse(&bad).unwrap_err().contains("grean"));
        assert!(Theme::load("nope").unwrap_err().contains("built in"));
    }
}
