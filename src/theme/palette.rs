//! How many colours the terminal shows, and themes brought down to them: 24-bit colours
//! become the nearest of the xterm 256-colour palette, or of the 16 ANSI colours (when a
//! theme names no fallback theme of its own for 16-colour terminals).

use ratatui::style::{Color, Style};

/// The colours a terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Palette {
    Ansi16,
    Ansi256,
    TrueColor,
}

impl Palette {
    /// From `COLORTERM` and `TERM`, as terminals announce themselves: `truecolor` or
    /// `24bit` in `COLORTERM`, else `256color` in `TERM`, else 16 colours.
    pub fn detect(colorterm: Option<&str>, term: Option<&str>) -> Palette {
        let colorterm = colorterm.unwrap_or("").to_ascii_lowercase();
        if colorterm.contains("truecolor") || colorterm.contains("24bit") {
            return Palette::TrueColor;
        }
        if term.is_some_and(|t| t.contains("256color") || t.contains("direct")) {
            return Palette::Ansi256;
        }
        Palette::Ansi16
    }

    /// `style` with every colour this palette cannot show replaced by its nearest.
    pub fn fit(self, style: Style) -> Style {
        Style {
            fg: style.fg.map(|c| self.colour(c)),
            bg: style.bg.map(|c| self.colour(c)),
            ..style
        }
    }

    fn colour(self, c: Color) -> Color {
        match (self, c) {
            (Palette::TrueColor, c) => c,
            (Palette::Ansi256, Color::Rgb(r, g, b)) => Color::Indexed(nearest_256(r, g, b)),
            (Palette::Ansi16, Color::Rgb(r, g, b)) => ANSI16[nearest_16(r, g, b)].0,
            (Palette::Ansi16, Color::Indexed(i)) if i >= 16 => {
                let (r, g, b) = rgb_of_256(i);
                ANSI16[nearest_16(r, g, b)].0
            }
            (_, c) => c,
        }
    }
}

/// The 16 ANSI colours with xterm's default values.
const ANSI16: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

/// The levels of xterm's 6×6×6 colour cube (indices 16–231).
const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

fn distance((r1, g1, b1): (u8, u8, u8), (r2, g2, b2): (u8, u8, u8)) -> u32 {
    let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).unsigned_abs();
    // Weighted as the eye weighs them (green most, blue least).
    3 * d(r1, r2).pow(2) + 4 * d(g1, g2).pow(2) + 2 * d(b1, b2).pow(2)
}

/// The ANSI colour of the same hue, as a theme's author would pick it: by distance alone,
/// muted theme colours would all turn grey. Dark colours are black, unsaturated ones grey
/// by their lightness; the rest take their hue's colour, the bright one when very light.
fn nearest_16(r: u8, g: u8, b: u8) -> usize {
    let (r, g, b) = (f32::from(r), f32::from(g), f32::from(b));
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let value = max / 255.0;
    let saturation = if max > 0.0 { (max - min) / max } else { 0.0 };
    if value < 0.3 {
        return 0;
    }
    if saturation < 0.25 {
        return match value {
            v if v < 0.6 => 8,
            v if v < 0.9 => 7,
            _ => 15,
        };
    }
    let span = max - min;
    let hue = if max == r {
        60.0 * ((g - b) / span).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / span + 2.0)
    } else {
        60.0 * ((r - g) / span + 4.0)
    };
    // Sectors of 60° centred on red, yellow, green, cyan, blue, magenta.
    let base = match ((hue + 30.0) / 60.0) as u32 % 6 {
        0 => 1,
        1 => 3,
        2 => 2,
        3 => 6,
        4 => 4,
        _ => 5,
    };
    if value > 0.95 && saturation > 0.5 {
        base + 8
    } else {
        base
    }
}

/// The nearest of the cube and the 24 greys (never the 16 ANSI ones, whose values each
/// terminal sets its own way).
fn nearest_256(r: u8, g: u8, b: u8) -> u8 {
    (16..=255u8)
        .min_by_key(|&i| distance((r, g, b), rgb_of_256(i)))
        .unwrap_or(16)
}

fn rgb_of_256(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => ANSI16[usize::from(i)].1,
        16..=231 => {
            let n = usize::from(i - 16);
            (CUBE[n / 36], CUBE[n / 6 % 6], CUBE[n % 6])
        }
        _ => {
            let v = 8 + 10 * (i - 232);
            (v, v, v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_terminal_says_how_many_colours_it_has() {
        assert_eq!(
            Palette::detect(Some("truecolor"), Some("xterm")),
            Palette::TrueColor
        );
        assert_eq!(Palette::detect(Some("24bit"), None), Palette::TrueColor);
        assert_eq!(
            Palette::detect(None, Some("xterm-256color")),
            Palette::Ansi256
        );
        assert_eq!(
            Palette::detect(None, Some("screen-256color")),
            Palette::Ansi256
        );
        assert_eq!(Palette::detect(None, Some("xterm")), Palette::Ansi16);
        assert_eq!(Palette::detect(None, Some("linux")), Palette::Ansi16);
        assert_eq!(Palette::detect(None, None), Palette::Ansi16);
    }

    #[test]
    fn colours_come_down_to_their_nearest() {
        let nord_red = Color::Rgb(0xbf, 0x61, 0x6a);
        assert_eq!(Palette::TrueColor.colour(nord_red), nord_red);
        assert_eq!(Palette::Ansi256.colour(nord_red), Color::Indexed(131));
        assert_eq!(Palette::Ansi16.colour(nord_red), Color::Red);
        assert_eq!(
            Palette::Ansi16.colour(Color::Rgb(0xa3, 0xbe, 0x8c)),
            Color::Green
        );
        assert_eq!(
            Palette::Ansi16.colour(Color::Rgb(0x2e, 0x34, 0x40)),
            Color::Black
        );
        assert_eq!(
            Palette::Ansi256.colour(Color::Rgb(0x80, 0x80, 0x80)),
            Color::Indexed(244)
        );
        // Named colours are the terminal's own: left alone.
        assert_eq!(Palette::Ansi16.colour(Color::Cyan), Color::Cyan);
        assert_eq!(Palette::Ansi16.colour(Color::Indexed(196)), Color::LightRed);
        assert_eq!(
            Palette::Ansi16.colour(Color::Rgb(0x6b, 0x72, 0x80)),
            Color::DarkGray
        );
        assert_eq!(
            Palette::Ansi16.colour(Color::Rgb(0x88, 0xc0, 0xd0)),
            Color::Cyan
        );
        assert_eq!(
            Palette::Ansi16.colour(Color::Rgb(0xeb, 0xcb, 0x8b)),
            Color::Yellow
        );
    }
}
