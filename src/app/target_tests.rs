//! One targeting rule for `c` and `:cmd`: the marked rows if any, else the cursor row;
//! the dialog says which.

use super::tests::{commanding_app, select, state};
use super::*;

#[test]
fn cmd_acts_on_the_marked_rows_like_c_and_says_so() {
    let s = state();
    let mut a = commanding_app(&s);
    let t1 = select(&mut a, &s, "tank-01");
    a.update(Action::Mark, &s);
    let t2 = select(&mut a, &s, "tank-02");
    a.update(Action::Mark, &s);
    // The cursor moves on to a pole; the marks are what the command is for.
    select(&mut a, &s, "pole-01");
    a.run_command("cmd reboot", &s);
    let Mode::Compose(c) = &a.mode else {
        panic!("{:?}", a.message)
    };
    assert_eq!(c.targets, [t1.min(t2), t1.max(t2)]);
    assert_eq!(c.chosen, compose::Chosen::Marked);
    a.update(Action::Submit, &s);
    let Mode::Compose(c) = &a.mode else { panic!() };
    assert_eq!(
        c.needed(&a.commands, &s).as_deref(),
        Some("reboot 2"),
        "dangerous and bulk: the name and the count"
    );

    // Unmarked, :cmd is for the cursor row again.
    a.update(Action::Cancel, &s);
    a.marked.clear();
    let pole = select(&mut a, &s, "pole-01");
    a.run_command("cmd light-off", &s);
    let Mode::Compose(c) = &a.mode else {
        panic!("{:?}", a.message)
    };
    assert_eq!(
        (c.targets.as_slice(), c.chosen),
        (&[pole][..], compose::Chosen::AtHand)
    );
}

#[test]
fn the_palette_cursor_stays_on_its_command_as_the_list_changes() {
    let s = state();
    let mut a = commanding_app(&s);
    select(&mut a, &s, "pole-01");
    a.update(Action::OpenCompose, &s);
    a.update(Action::Down, &s);
    let Mode::Compose(c) = &a.mode else { panic!() };
    let choices = c.choices(&a.commands, &s);
    let names: Vec<&str> = choices.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["light-dim", "light-off", "reboot"]);
    assert_eq!(c.pick_index(&choices), 1);
    // A command joins above it (or one leaves): the cursor stays on light-off.
    assert_eq!(c.pick_index(&choices[1..]), 0);
    let mut longer = vec![choices[2].clone()];
    longer.extend(choices.iter().cloned());
    assert_eq!(longer[c.pick_index(&longer)].name, "light-off");
}
