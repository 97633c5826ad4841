rule make_dataset:
    output:
        "results/datasets/scale{scale}/{dkey}.pt",
    log:
        "results/datasets/scale{scale}/{dkey}.log",
    params:
        data=dataset_settings,
    script:
        "../scripts/make_dataset.py"
