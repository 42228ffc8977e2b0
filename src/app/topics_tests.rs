use super::*;

fn info(messages: u64) -> TopicInfo {
    TopicInfo {
        messages,
        ..Default::default()
    }
}

fn sample() -> Vec<(String, TopicInfo)> {
    vec![
        ("plant/b/temp".into(), info(3)),
        ("plant/a/temp".into(), info(2)),
        ("plant/a/hum".into(), info(1)),
        ("plant/a-x".into(), info(7)),
        ("zz".into(), info(4)),
    ]
}

fn paths(lines: &[TopicLine]) -> Vec<&str> {
    lines.iter().map(|l| l.path.as_str()).collect()
}

fn unfolded(paths: &[&str]) -> HashSet<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

fn open(paths: &[&str]) -> Explorer {
    Explorer {
        unfolded: unfolded(paths),
        ..Explorer::default()
    }
}

#[test]
fn everything_starts_folded_with_counts_under_each_branch() {
    let l = lines(sample(), &Explorer::default());
    assert_eq!(paths(&l), ["plant", "zz"]);
    assert_eq!((l[0].topics, l[0].messages, l[0].branch), (4, 13, true));
    assert_eq!((l[1].topics, l[1].messages, l[1].branch), (1, 4, false));
    assert!(!l[0].unfolded);
}

#[test]
fn unfolded_branches_show_children_in_tree_order() {
    let l = lines(sample(), &open(&["plant", "plant/a"]));
    // `a-x` sorts after `a` and its children, not between them.
    assert_eq!(
        paths(&l),
        [
            "plant",
            "plant/a",
            "plant/a/hum",
            "plant/a/temp",
            "plant/a-x",
            "plant/b",
            "zz"
        ]
    );
    assert_eq!(l[2].depth, 2);
    assert_eq!(l[2].label, "hum");
    // A folded branch keeps its children hidden even when a deeper one is unfolded.
    let l = lines(sample(), &open(&["plant/a"]));
    assert_eq!(paths(&l), ["plant", "zz"]);
}

#[test]
fn a_topic_that_is_also_a_branch_keeps_its_own_figures() {
    let e = vec![("a".into(), info(2)), ("a/b".into(), info(5))];
    let l = lines(e, &open(&["a"]));
    assert_eq!(l[0].own.as_ref().map(|o| o.messages), Some(2));
    assert_eq!((l[0].topics, l[0].messages), (2, 7));
}

#[test]
fn one_topic_on_two_connections_is_one_line() {
    let e = vec![("a".into(), info(2)), ("a".into(), info(5))];
    let l = lines(e, &Explorer::default());
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].own.as_ref().map(|o| o.messages), Some(7));
}

#[test]
fn fold_and_unfold_move_the_cursor_by_path() {
    let mut x = Explorer::default();
    let l = lines(sample(), &x);
    x.unfold(&l);
    assert!(x.unfolded.contains("plant"));
    let l = lines(sample(), &x);
    x.unfold(&l);
    assert_eq!(
        x.cursor.as_deref(),
        Some("plant/a"),
        "l on an open branch enters it"
    );
    let l = lines(sample(), &x);
    x.toggle(&l);
    let l = lines(sample(), &x);
    x.go_to(&l, 2);
    assert_eq!(x.cursor.as_deref(), Some("plant/a/hum"));
    let l = lines(sample(), &x);
    x.fold(&l);
    assert_eq!(
        x.cursor.as_deref(),
        Some("plant/a"),
        "h on a leaf goes to its parent"
    );
    x.fold(&l);
    assert!(
        !x.unfolded.contains("plant/a"),
        "h on an open branch folds it"
    );
    let l = lines(sample(), &x);
    x.fold(&l);
    assert_eq!(x.cursor.as_deref(), Some("plant"));
}

#[test]
fn the_cursor_stays_on_its_topic_as_topics_arrive() {
    let mut x = Explorer {
        unfolded: unfolded(&["plant", "plant/b"]),
        cursor: Some("plant/b/temp".into()),
        ..Explorer::default()
    };
    let before = lines(sample(), &x);
    let mut more = sample();
    more.push(("plant/0/new".into(), info(1)));
    more.push(("plant/a0".into(), info(1)));
    let after = lines(more, &x);
    assert_ne!(x.cursor_index(&before), x.cursor_index(&after));
    assert_eq!(after[x.cursor_index(&after)].path, "plant/b/temp");
    // Folded away, it lands on the nearest ancestor shown.
    x.unfolded.remove("plant");
    let folded = lines(sample(), &x);
    assert_eq!(folded[x.cursor_index(&folded)].path, "plant");
}

#[test]
fn hostile_levels_are_escaped() {
    let l = lines(vec![("a\x1b[2J/b".into(), info(1))], &Explorer::default());
    assert_eq!(l[0].label, "a\\e[2J");
}

#[test]
fn a_search_shows_matching_topics_with_their_ancestors_unfolded() {
    let x = Explorer {
        search: "TEMP".into(),
        ..Explorer::default()
    };
    let l = lines(sample(), &x);
    assert_eq!(
        paths(&l),
        [
            "plant",
            "plant/a",
            "plant/a/temp",
            "plant/b",
            "plant/b/temp"
        ]
    );
    assert!(l[0].unfolded, "folds do not hide matches");
    assert_eq!(
        (l[0].topics, l[0].messages),
        (2, 5),
        "counts are of the matches"
    );
    let none = Explorer {
        search: "nothing".into(),
        ..Explorer::default()
    };
    assert!(lines(sample(), &none).is_empty());
}
