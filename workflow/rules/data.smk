rule make_dataset:
    output:
        "results/datasets/scale{scale}/{dkey}.pt",
    params:
        data=dataset_settings,
    log:
        "results/datasets/scale{scale}/{dkey}.log",
    script:
        "../scripts/make_dataset.py"
