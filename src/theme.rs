//! Themes are data: `themes/*.toml`, one colour per role. The four shipped themes are
//! built in; files in `~/.config/fleetop/themes/` add or override them. With `NO_COLOR`
//! set, a monochrome theme uses bold, reverse and underline instead of colour.

mod palette;

pub use palette::Palette;
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
    /// The theme to use on a 16-colour terminal (and with `--slow-link`); without one, its
    /// colours come down to their nearest ANSI colours.
    #[serde(default)]
    fallback: Option<String>,
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
    /// Its theme for 16-colour terminals, if it names one.
    pub fallback: Option<String>,
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

    /// A theme by name as a terminal with `palette` shows it: its declared fallback on 16
    /// colours, else its colours brought down to their nearest.
    pub fn load_for(name: &str, palette: Palette) -> Result<Theme, String> {
        let theme = Theme::load(name)?;
        if palette == Palette::Ansi16
            && let Some(fallback) = theme.fallback.as_deref().filter(|f| *f != name)
        {
            return Ok(Theme::load(fallback)?.fit(palette));
        }
        Ok(theme.fit(palette))
    }

    /// The theme to start with: monochrome under `NO_COLOR`, else `name` (or `default`) for
    /// the terminal's `palette`.
    pub fn initial(name: Option<&str>, palette: Palette) -> Result<Theme, String> {
        if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return Ok(Theme::monochrome());
        }
        Theme::load_for(name.unwrap_or("default"), palette)
    }

    /// Every style with the colours `palette` cannot show replaced by their nearest.
    pub fn fit(self, palette: Palette) -> Theme {
        let f = |s: Style| palette.fit(s);
        Theme {
            text: f(self.text),
            dim: f(self.dim),
            accent: f(self.accent),
            header: f(self.header),
            border: f(self.border),
            ok: f(self.ok),
            warn: f(self.warn),
            crit: f(self.crit),
            stale: f(self.stale),
            offline: f(self.offline),
            unknown: f(self.unknown),
            selection: f(self.selection),
            ..self
        }
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
            fallback: f.fallback,
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
            fallback: None,
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
    fn truecolour_themes_fit_the_terminal_they_are_shown_on() {
        let on = |name, p| Theme::load_for(name, p).unwrap_or_else(|e| panic!("{e}"));
        let styles = |t: &Theme| {
            [
                t.text, t.dim, t.accent, t.header, t.border, t.ok, t.warn, t.crit, t.stale,
            ]
            .into_iter()
            .chain([t.offline, t.unknown, t.selection])
            .flat_map(|s| [s.fg, s.bg])
            .flatten()
            .collect::<Vec<_>>()
        };
        for name in ["dark", "light"] {
            let full = on(name, Palette::TrueColor);
            assert!(styles(&full).iter().any(|c| matches!(c, Color::Rgb(..))));
            let c256 = on(name, Palette::Ansi256);
            assert!(
                styles(&c256).iter().all(|c| !matches!(c, Color::Rgb(..))),
                "{name}"
            );
            let c16 = on(name, Palette::Ansi16);
            assert_eq!(c16.name, "default", "{name} names its 16-colour fallback");
        }
        // A theme without a fallback comes down to the nearest ANSI colours.
        let own = BUILT_IN[1].1.replace("name = \"dark\"", "name = \"mine\"");
        let t = Theme::parse(&own)
            .unwrap_or_else(|e| panic!("{e}"))
            .fit(Palette::Ansi16);
        assert!(
            styles(&t)
                .iter()
                .all(|c| !matches!(c, Color::Rgb(..) | Color::Indexed(_)))
        );
    }

    #[test]
    fn bad_colours_and_names_are_explained() {
        let bad = BUILT_IN[0].1.replace("\"green\"", "\"grean\"");
        assert!(Theme::parse(&bad).unwrap_err().contains("grean"));
        assert!(Theme::load("nope").unwrap_err().contains("built in"));
    }
}
