NAME        hwplan-highs-presolve-fault
ROWS
 N  Obj     
 G  r0      
 L  r2      
 L  r3      
COLUMNS
    MARK0000  'MARKER'                 'INTORG'
    c0        Obj       1
    c0        r0        36
    c0        r2        430085
    c0        r3        1900
    c1        Obj       2
    c1        r0        43
    c1        r2        250210
    c1        r3        2860
    c2        Obj       3
    c2        r0        62
    c2        r2        375315
    c2        r3        4289
    c3        Obj       2
    c3        r0        41
    c3        r2        250210
    c3        r3        2770
    c4        Obj       3
    c4        r0        59
    c4        r2        375315
    c4        r3        4155
    c5        Obj       4
    c5        r0        355
    c5        r2        2808368
    c5        r3        17685
    c6        Obj       7
    c6        r0        586
    c6        r2        4914644
    c6        r3        30948
    c7        Obj       2
    c7        r0        3
    c7        r2        20000
    c7        r3        1875
    c8        Obj       3
    c8        r0        4
    c8        r2        30000
    c8        r3        2813
    c9        Obj       1
    c9        r0        10
    c9        r2        80130
    c9        r3        1080
    c11       Obj       2
    c11       r0        16
    c11       r2        103156
    c11       r3        1996
    c12       Obj       3
    c12       r0        95
    c12       r2        366378
    c12       r3        5115
    c13       Obj       4
    c13       r0        120
    c13       r2        488504
    c13       r3        6820
    c16       Obj       1
    c16       r0        99
    c16       r2        527274
    c16       r3        3873
    c17       Obj       1
    c17       r0        103
    c17       r2        527274
    c17       r3        3929
    c18       Obj       1
    c18       r0        42
    c18       r2        316443
    c18       r3        2096
    c19       Obj       1
    c19       r0        30
    c19       r2        124416
    c19       r3        1962
    c20       Obj       2
    c20       r0        46
    c20       r2        248832
    c20       r3        3923
    c21       Obj       1
    c21       r0        26
    c21       r2        117459
    c21       r3        1604
    c24       Obj       3
    c24       r0        120
    c24       r2        478701
    c24       r3        8263
    c25       Obj       4
    c25       r0        151
    c25       r2        638268
    c25       r3        11018
    c30       Obj       1
    c30       r0        96
    c30       r2        604930
    c30       r3        3187
    c31       Obj       1
    c31       r0        113
    c31       r2        624036
    c31       r3        6855
    c39       Obj       1
    c39       r0        70
    c39       r2        389497
    c39       r3        3389
    c40       Obj       2
    c40       r0        127
    c40       r2        778994
    c40       r3        6778
    c41       Obj       3
    c41       r0        181
    c41       r2        1168491
    c41       r3        10168
    c42       Obj       5
    c42       r0        281
    c42       r2        1947485
    c42       r3        16946
    c43       Obj       1
    c43       r0        54
    c43       r2        389497
    c43       r3        3360
    c44       Obj       2
    c44       r0        58
    c44       r2        376276
    c44       r3        3958
    c45       Obj       1
    c45       r0        32
    c45       r2        188138
    c45       r3        1996
    c46       Obj       2
    c46       r0        61
    c46       r2        376276
    c46       r3        3992
    c47       Obj       5
    c47       r0        514
    c47       r2        5256805
    c47       r3        26593
    c48       Obj       6
    c48       r0        598
    c48       r2        6308166
    c48       r3        31911
    c49       Obj       8
    c49       r0        759
    c49       r2        8410888
    c49       r3        42548
    c50       Obj       2
    c50       r0        51
    c50       r2        348634
    c50       r3        3313
    c51       Obj       1
    c51       r0        107
    c51       r2        580406
    c51       r3        4094
    c52       Obj       1
    c52       r0        93
    c52       r2        429464
    c52       r3        2687
    c53       Obj       2
    c53       r0        179
    c53       r2        858928
    c53       r3        5373
    c54       Obj       3
    c54       r0        263
    c54       r2        1288392
    c54       r3        8060
    c58       Obj       1
    c58       r0        76
    c58       r2        429464
    c58       r3        2647
    c72       Obj       1
    c72       r0        29
    c72       r2        163640
    c72       r3        1532
    c73       Obj       1
    c73       r0        24
    c73       r2        163640
    c73       r3        1527
    c74       Obj       2
    c74       r0        221
    c74       r2        1509044
    c74       r3        11824
    c75       Obj       5
    c75       r0        497
    c75       r2        3772610
    c75       r3        29560
    MARK0001  'MARKER'                 'INTEND'
RHS
    RHS_V     r0        10000
    RHS_V     r2        43268576.5
    RHS_V     r3        387741.5
BOUNDS
 UI BOUND     c0        204
 UI BOUND     c1        135
 UI BOUND     c2        90
 UI BOUND     c3        140
 UI BOUND     c4        93
 UI BOUND     c5        21
 UI BOUND     c6        12
 UI BOUND     c7        206
 UI BOUND     c8        137
 UI BOUND     c9        359
 UI BOUND     c11       194
 UI BOUND     c12       75
 UI BOUND     c13       56
 UI BOUND     c16       100
 UI BOUND     c17       98
 UI BOUND     c18       185
 UI BOUND     c19       197
 UI BOUND     c20       98
 UI BOUND     c21       241
 UI BOUND     c24       46
 UI BOUND     c25       35
 UI BOUND     c30       105
 UI BOUND     c31       56
 UI BOUND     c39       114
 UI BOUND     c40       57
 UI BOUND     c41       38
 UI BOUND     c42       22
 UI BOUND     c43       115
 UI BOUND     c44       98
 UI BOUND     c45       194
 UI BOUND     c46       97
 UI BOUND     c47       14
 UI BOUND     c48       12
 UI BOUND     c49       9
 UI BOUND     c50       117
 UI BOUND     c51       94
 UI BOUND     c52       108
 UI BOUND     c53       56
 UI BOUND     c54       39
 UI BOUND     c58       132
 UI BOUND     c72       253
 UI BOUND     c73       254
 UI BOUND     c74       32
 UI BOUND     c75       13
ENDATA
